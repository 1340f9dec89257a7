import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '../helpers/process.js';
import {
  createSecretStore,
  knownSecretValues,
  NoKeyringError,
  redactKnownSecrets,
  resolveSecretRef,
  resolveSecretValues,
  SecretRefSchema,
  SecretValueSchema,
  type SecretStoreInfo,
} from '../../gateway/secrets/index.js';
import { redactKnownSecretsDeep, rememberSecretValue } from '../../gateway/secrets/known.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(import.meta.dirname, 'cli-entry.ts');
// A service name of this run only, so tests never touch a real "tollgate" keyring entry.
const SERVICE = `tollgate-test-${randomBytes(4).toString('hex')}`;
const stateDir = await mkdtemp(join(tmpdir(), 'tollgate-secrets-'));
const store = createSecretStore({ stateDir, service: SERVICE });

// Which keyring this machine has decides which half below runs; both halves say so in the output.
let info: SecretStoreInfo | undefined;
let keyringError: unknown;
try {
  info = await store.describe();
  console.log(`[secrets] exercising the real OS keyring: ${info.store} — ${info.note}`);
} catch (err) {
  keyringError = err;
  console.log(`[secrets] no usable OS keyring here; testing the error and env references: ${(err as Error).message}`);
}

afterAll(async () => {
  if (info) for (const name of await store.list()) await store.delete(name);
  await rm(stateDir, { recursive: true, force: true });
});

function cli(args: string[], o: { stdin?: string; env?: NodeJS.ProcessEnv; backend?: string; dir?: string } = {}) {
  return runProcess(process.execPath, ['--import', 'tsx', ENTRY, o.dir ?? stateDir, SERVICE, o.backend ?? 'keyring', 'secrets', ...args], { cwd: ROOT, env: o.env, input: o.stdin });
}

async function stateFilesText(dir: string): Promise<string> {
  const names = await readdir(dir);
  return (await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')))).join('\n');
}

describe.runIf(info)('OS keyring store', () => {
  it('set, get, list and delete round-trip in this process; the state dir holds names only', async () => {
    const value = `v-${randomBytes(16).toString('hex')}`;
    await store.set('github-token', value);
    expect(await store.get('github-token')).toBe(value);
    expect(await store.list()).toContain('github-token');
    expect(await stateFilesText(stateDir)).not.toContain(value);
    expect(await store.delete('github-token')).toBe(true);
    expect(await store.get('github-token')).toBeUndefined();
    expect(await store.list()).not.toContain('github-token');
    expect(await store.delete('github-token')).toBe(false);
  });

  it('`secrets set` in another process reads stdin, stores in the keyring, echoes nothing; list shows names only', async () => {
    const value = `s3cr3t-${randomBytes(16).toString('hex')}`;
    const set = await cli(['set', 'api-key'], { stdin: value + '\n' });
    expect(set.code).toBe(0);
    expect(set.stderr).toContain('Stored secret "api-key"');
    expect(set.stderr).toContain('{"secret": "api-key"}');
    expect(set.stdout + set.stderr).not.toContain(value);
    // the trailing newline of piped input is not part of the value
    expect(await createSecretStore({ stateDir, service: SERVICE }).get('api-key')).toBe(value);
    const list = await cli(['list']);
    expect(list.stdout.trim().split('\n')).toContain('api-key');
    expect(list.stdout + list.stderr).not.toContain(value);
    expect(await stateFilesText(stateDir)).not.toContain(value);
    const del = await cli(['delete', 'api-key']);
    expect(del.code).toBe(0);
    expect(await store.get('api-key')).toBeUndefined();
    expect(JSON.parse((await cli(['list', '--json'])).stdout)).not.toContain('api-key');
  });

  it.runIf(info?.store === 'keyutils')('falls back past an unreachable Secret Service to the kernel keyring', async () => {
    const value = `fb-${randomBytes(8).toString('hex')}`;
    const set = await cli(['set', 'fallback'], { stdin: value, env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' } });
    expect(set.code).toBe(0);
    expect(set.stderr).toContain('Linux kernel keyring');
    expect(await store.get('fallback')).toBe(value);
    await store.delete('fallback');
  });

  it('resolves a {"secret"} reference from the keyring and remembers the value for redaction', async () => {
    const value = `ref-${randomBytes(12).toString('hex')}`;
    await store.set('upstream', value);
    expect(await resolveSecretRef({ secret: 'upstream' }, store, {})).toBe(value);
    expect(knownSecretValues()).toContain(value);
    expect(redactKnownSecrets(`Authorization: Bearer ${value}`)).toBe('Authorization: Bearer [REDACTED:secret]');
    await store.delete('upstream');
  });
});

describe.runIf(keyringError)('no OS keyring', () => {
  it('says so clearly and points to env references', async () => {
    expect(keyringError).toBeInstanceOf(NoKeyringError);
    expect((keyringError as Error).message).toMatch(/^no OS keyring available: .+; use an \{"env": NAME\} reference instead$/);
    const set = await cli(['set', 'x'], { stdin: 'value' });
    expect(set.code).toBe(1);
    expect(set.stderr).toContain('no OS keyring available');
  });
});

describe('secrets CLI input rules', () => {
  it('refuses a value on the command line and stores nothing', async () => {
    const r = await cli(['set', 'leak', 'hunter2-value'], { backend: 'file-for-tests' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the value is read from stdin');
    expect(r.stderr).not.toContain('hunter2-value');
    expect(JSON.parse((await cli(['list', '--json'], { backend: 'file-for-tests' })).stdout)).toEqual([]);
  });

  it('rejects empty input and bad names', async () => {
    const empty = await cli(['set', 'empty'], { stdin: '', backend: 'file-for-tests' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('no value on stdin for "empty"');
    const bad = await cli(['set', '../etc'], { stdin: 'v', backend: 'file-for-tests' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid secret name "../etc"');
  });
});

describe('file-for-tests backend', () => {
  it('round-trips and lists names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-secrets-file-'));
    const s = createSecretStore({ stateDir: dir, service: SERVICE, backend: 'file-for-tests' });
    expect((await s.describe()).store).toBe('file-for-tests');
    await s.set('a', 'alpha-value');
    await s.set('b', 'beta-value');
    expect(await s.list()).toEqual(['a', 'b']);
    expect(await s.get('a')).toBe('alpha-value');
    expect(await s.delete('a')).toBe(true);
    expect(await s.list()).toEqual(['b']);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('secret references', () => {
  it('schemas accept exactly {secret} | {env} and literal strings for values', () => {
    expect(SecretRefSchema.parse({ secret: 'gh' })).toEqual({ secret: 'gh' });
    expect(SecretRefSchema.parse({ env: 'GITHUB_TOKEN' })).toEqual({ env: 'GITHUB_TOKEN' });
    expect(SecretRefSchema.safeParse({ secret: 'gh', env: 'X' }).success).toBe(false);
    expect(SecretRefSchema.safeParse({}).success).toBe(false);
    expect(SecretRefSchema.safeParse({ env: '1BAD' }).success).toBe(false);
    expect(SecretValueSchema.parse('Bearer literal')).toBe('Bearer literal');
    expect(SecretValueSchema.safeParse(42).success).toBe(false);
  });

  it('resolves {"env"} references and remembers the value', async () => {
    const value = `env-${randomBytes(8).toString('hex')}`;
    expect(await resolveSecretRef({ env: 'MY_TOKEN' }, undefined, { MY_TOKEN: value })).toBe(value);
    expect(knownSecretValues()).toContain(value);
  });

  it('errors name the reference and the field, never a value', async () => {
    await expect(resolveSecretRef({ env: 'MISSING_VAR' }, undefined, {})).rejects.toThrow(
      '{"env": "MISSING_VAR"}: environment variable MISSING_VAR is not set or is empty',
    );
    await expect(resolveSecretRef({ secret: 'gh' }, undefined, {})).rejects.toThrow('{"secret": "gh"}: no secret store is configured');
    const fileStore = createSecretStore({ stateDir, service: SERVICE, backend: 'file-for-tests' });
    await expect(resolveSecretRef({ secret: 'nope' }, fileStore, {})).rejects.toThrow(
      '{"secret": "nope"}: no secret named "nope" in the keyring; set it with `tollgate secrets set nope`',
    );
    const err = await resolveSecretValues(
      { 'X-Plain': 'literal', Authorization: { env: 'ABSENT' } },
      { store: fileStore, env: { OTHER: 'should-not-appear' }, where: 'servers.json mcpServers.docs.headers' },
    ).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      'servers.json mcpServers.docs.headers.Authorization: {"env": "ABSENT"}: environment variable ABSENT is not set or is empty',
    );
    expect(
      await resolveSecretValues({ A: 'lit', B: { env: 'B_VAL' } }, { store: undefined, env: { B_VAL: 'bee-value' }, where: 'x' }),
    ).toEqual({ A: 'lit', B: 'bee-value' });
  });
});

describe('scrubbing known secret values from structured results', () => {
  it('replaces them in strings and keys at any depth, whatever characters they contain, and keeps the structure', () => {
    rememberSecretValue('hunter2"pa\\ss');
    rememberSecretValue('4711');
    const result = { content: [{ type: 'text', text: 'DB_PASS=hunter2"pa\\ss' }], structuredContent: { count: 4711, pin: '4711', 'key-4711': true } };
    expect(redactKnownSecretsDeep(result)).toEqual({
      content: [{ type: 'text', text: 'DB_PASS=[REDACTED:secret]' }],
      structuredContent: { count: 4711, pin: '[REDACTED:secret]', 'key-[REDACTED:secret]': true },
    });
  });
});
