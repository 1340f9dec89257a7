import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenStore } from '../../gateway/server/auth/index.js';
import { runProcess } from '../helpers/process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(import.meta.dirname, 'cli-entry.ts');
let stateDir: string;

function tollgate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProcess(process.execPath, ['--import', 'tsx', ENTRY, stateDir, 'tokens', ...args], { cwd: ROOT });
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'tollgate-tokens-cli-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('tollgate tokens (spawned CLI)', () => {
  let token: string;
  let id: string;

  it('create prints the token once on stdout and the rest on stderr', async () => {
    const r = await tollgate('create', 'ci-bot', '--group', 'push', '--group=dev');
    expect(r.code).toBe(0);
    token = r.stdout.trim();
    expect(token).toMatch(/^tg_[A-Za-z0-9_-]{43}$/);
    expect(r.stderr).toMatch(/Created tok_[0-9a-f]{10} for ci-bot \(groups: push, dev\)/);
    expect(r.stderr).toContain('only time the token is shown');
    id = /tok_[0-9a-f]{10}/.exec(r.stderr)![0];
  });

  it('the issued token verifies in another process', async () => {
    expect(await createTokenStore({ stateDir }).verify(token)).toMatchObject({ id, identity: 'ci-bot', groups: ['push', 'dev'] });
  });

  it('list shows metadata but never the token; tokens.json holds no plaintext and is owner-only', async () => {
    const table = await tollgate('list');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${id}\\s+ci-bot\\s+push,dev\\s+\\S+\\s+\\S+\\s+active`));
    const json = await tollgate('list', '--json');
    const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(listed).toHaveLength(1);
    expect(Object.keys(listed[0]!).sort()).toEqual(['created', 'groups', 'id', 'identity', 'lastUsed'].filter((k) => k in listed[0]!).sort());
    for (const out of [table.stdout, table.stderr, json.stdout, json.stderr]) expect(out).not.toContain(token.slice(3, 20));
    const file = await readFile(join(stateDir, 'tokens.json'), 'utf8');
    expect(file).not.toContain(token.slice(3));
    expect((await stat(join(stateDir, 'tokens.json'))).mode & 0o777).toBe(0o600);
  });

  it('revoke by id marks it revoked, and the token stops verifying', async () => {
    const r = await tollgate('revoke', id);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Revoked ${id} (ci-bot)`);
    expect((await tollgate('list')).stdout).toMatch(/revoked \d{4}-/);
    expect(await createTokenStore({ stateDir }).verify(token)).toBeUndefined();
    const again = await tollgate('revoke', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no active token with id or name "${id}"`);
  });

  it('rejects bad input with a precise message and exit code 2', async () => {
    const bad = await tollgate('create', 'bad name!');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid token name "bad name!"');
    const missing = await tollgate('create', 'x', '--group');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--group needs a value');
    const unknown = await tollgate('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown subcommand "frobnicate"');
  });
});
