// The storage commands and config as a user runs them: validation naming the field, `storage migrate|status`,
// an unreachable database at start (host and port named, non-zero exit), and a URL's password never printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../helpers/gateway.js';
import { freePort, startPostgres, type PgServer } from '../helpers/postgres.js';

let pg: PgServer;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.destroy();
});

const dirWith = (storage: unknown) => configDir({}, { storage, audit: { otlp: { enabled: false } } });

describe('storage config and commands', () => {
  it('config validate names the field of a bad storage setting', async () => {
    const bad = await runCli(['config', 'validate', '--config', dirWith({ kind: 'postgres', url: 'mysql://u@h/db' })]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/tollgate\.json: storage\.url: expected a postgres:\/\/ or postgresql:\/\/ URL, not mysql:/);
    const none = await runCli(['config', 'validate', '--config', dirWith({ kind: 'postgres' })]);
    expect(none.stderr + none.stdout).toMatch(/storage\.url: expected a postgres:\/\/ URL, \{"env": "NAME"\} or \{"secret": "name"\}/);
    const kind = await runCli(['config', 'validate', '--config', dirWith({ kind: 'sqlite' })]);
    expect(kind.stderr + kind.stdout).toMatch(/storage\.kind: expected \{"kind": "files"\} or \{"kind": "postgres"/);
  });

  it('storage migrate creates the schema once; status reports it; the password is shown as ***', async () => {
    const url = (await pg.createDatabase('cli1')).replace('tollgate@', 'tollgate:s3cret-pw@');
    const dir = dirWith({ kind: 'postgres', url: { env: 'TG_DB' } });
    const env = { TG_DB: url };
    const first = await runCli(['storage', 'migrate', '--config', dir], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/schema migrated from version 0 to 1/);
    expect(first.stdout).toContain('tollgate:***@127.0.0.1');
    const again = await runCli(['storage', 'migrate', '--config', dir], { env });
    expect(again.stdout).toMatch(/already at version 1, nothing to do/);
    const status = await runCli(['storage', 'status', '--json', '--config', dir], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ kind: 'postgres', schemaVersion: 1, knownVersion: 1 });
    for (const r of [first, again, status]) expect(r.stdout + r.stderr).not.toContain('s3cret-pw');
    // an unset reference is named by the field and the variable
    const unset = await runCli(['storage', 'status', '--config', dir]);
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toMatch(/tollgate\.json storage\.url: \{"env": "TG_DB"\}: environment variable TG_DB is not set/);
  });

  it('files storage: status says so, migrate has nothing to do', async () => {
    const dir = configDir({}, { audit: { otlp: { enabled: false } } });
    const r = await runCli(['storage', 'migrate', '--config', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/storage: files in .*there is no schema to migrate/);
  });

  it('an unreachable database at start: serve exits non-zero naming host and port, never the password', async () => {
    const port = await freePort();
    const dir = dirWith({ kind: 'postgres', url: `postgres://tollgate:hunter2-pw@127.0.0.1:${port}/tollgate` });
    const serve = await runCli(['serve', '--http', '127.0.0.1:0', '--config', dir]);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr).toMatch(new RegExp(`cannot reach the Postgres database at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED`));
    expect(serve.stderr).not.toContain('hunter2');
    const migrate = await runCli(['storage', 'migrate', '--config', dir]);
    expect(migrate.code).not.toBe(0);
    expect(migrate.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
    expect(migrate.stderr).not.toContain('hunter2');
  });
});
