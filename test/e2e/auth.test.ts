// Agent authentication on /mcp and upstream secrets, through the real gateway process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, httpAgent, httpGateway, runCli, textOf, until, upstreams, ALLOW_ALL, type HttpGateway } from '../helpers/gateway.js';

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: false })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

describe('agent authentication and upstream secrets', () => {
  let dir: string;
  let gw: HttpGateway;
  const secretName = `e2e-${randomBytes(4).toString('hex')}`;
  const secretValue = `s3cr3t-${randomBytes(12).toString('hex')}`;
  let secretVia: 'keyring' | 'env';

  beforeAll(async () => {
    dir = configDir({}, ALLOW_ALL);
    const set = await runCli(['secrets', 'set', secretName, '--config', dir], { input: `${secretValue}\n` });
    // Honest fallback: where no OS keyring exists, the documented {"env": NAME} reference is what admins use.
    secretVia = set.code === 0 ? 'keyring' : 'env';
    if (secretVia === 'env') expect(set.stderr).toMatch(/no OS keyring available/);
    const ref = secretVia === 'keyring' ? { secret: secretName } : { env: 'E2E_UPSTREAM_SECRET' };
    const servers = { fixture: { ...upstreams.fixture(), env: { UPSTREAM_SECRET: ref } } };
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ mcpServers: servers }));
    gw = await httpGateway(dir, secretVia === 'env' ? { E2E_UPSTREAM_SECRET: secretValue } : {});
  });

  afterAll(async () => {
    await gw?.stop();
    if (secretVia === 'keyring') await runCli(['secrets', 'delete', secretName, '--config', dir]);
  });

  it('refuses a missing, wrong or revoked token with 401 and WWW-Authenticate, and journals the refusal', async () => {
    const missing = await fetch(gw.url, { method: 'POST', headers: HEADERS, body: INIT });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource"/);
    const wrong = await fetch(gw.url, { method: 'POST', headers: { ...HEADERS, authorization: 'Bearer tg_not-a-real-token' }, body: INIT });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

    const created = await runCli(['tokens', 'create', 'short-lived', '--config', dir]);
    const token = created.stdout.trim();
    const ok = await fetch(gw.url, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${token}` }, body: INIT });
    expect(ok.status).toBe(200);
    const revoke = await runCli(['tokens', 'revoke', 'short-lived', '--config', dir]);
    expect(revoke.code).toBe(0);
    const revoked = await fetch(gw.url, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${token}` }, body: INIT });
    expect(revoked.status).toBe(401);

    const meta = await fetch(`${new URL(gw.url).origin}/.well-known/oauth-protected-resource`);
    expect((await meta.json()) as object).toMatchObject({ resource: gw.url });

    const q = await runCli(['audit', 'query', '--json', '--event', 'tollgate.session_start', '--config', dir]);
    const refused = q.stdout.split('\n').filter((l) => l.includes('"refused"'));
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(q.stdout).not.toContain(token);
  });

  it("a token cannot ride on a session opened by another token of the same name with other groups", async () => {
    const a = (await runCli(['tokens', 'create', 'ci', '--group', 'deploy', '--config', dir])).stdout.trim();
    const b = (await runCli(['tokens', 'create', 'ci', '--group', 'untrusted', '--config', dir])).stdout.trim();
    const opened = await fetch(gw.url, { method: 'POST', headers: { ...HEADERS, authorization: `Bearer ${a}` }, body: INIT });
    expect(opened.status).toBe(200);
    const sid = opened.headers.get('mcp-session-id')!;
    await opened.text();
    const session = { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const ridden = await fetch(gw.url, { method: 'POST', headers: { ...session, authorization: `Bearer ${b}` }, body: list });
    expect(ridden.status).toBe(403);
    expect(((await ridden.json()) as { error: { message: string } }).error.message).toMatch(/opened with other groups/);
    const own = await fetch(gw.url, { method: 'POST', headers: { ...session, authorization: `Bearer ${a}` }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    expect(own.status).toBe(202);
  });

  it('ties the session to the token identity on every audit event', async () => {
    const agent = await httpAgent(gw.url, {}, gw.auth);
    await agent.callTool({ name: 'fixture__echo', arguments: { text: 'who am i' } });
    await agent.close();
    const q = await runCli(['audit', 'query', '--json', '--tool', 'fixture__echo', '--config', dir]);
    const events = q.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { identity?: string });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.identity === 'token:test-agent')).toBe(true);
  });

  it('delivers the secret to the upstream and nowhere else (journal, state, logs)', async () => {
    const agent = await httpAgent(gw.url, {}, gw.auth);
    const r = await agent.callTool({ name: 'fixture__env_digest', arguments: { name: 'UPSTREAM_SECRET' } });
    await agent.close();
    expect(textOf(r)).toBe(createHash('sha256').update(secretValue).digest('hex'));
    // A careless upstream returns the secret in a result: the agent is not the one to read it.
    const echoer = await httpAgent(gw.url, {}, gw.auth);
    const echoed = await echoer.callTool({ name: 'fixture__echo_env', arguments: { name: 'UPSTREAM_SECRET' } });
    await echoer.close();
    expect(textOf(echoed)).toBe('the key is [REDACTED:secret]');
    // A careless upstream prints the secret to stderr and dies: its stderr reaches the agent's error, the journal
    // and the gateway's log, each with the value scrubbed.
    const leaker = await httpAgent(gw.url, {}, gw.auth);
    const died = await leaker.callTool({ name: 'fixture__leak_env_and_exit', arguments: { name: 'UPSTREAM_SECRET' } });
    await leaker.close();
    expect(died.isError).toBe(true);
    expect(textOf(died)).not.toContain(secretValue);
    await until(() => /fatal: auth failed for key=\[REDACTED:secret\]/.test(gw.stderr()), 'the upstream stderr in the gateway log, scrubbed');
    const everywhere = [...filesUnder(join(dir, '.tollgate')).map((f) => readFileSync(f, 'latin1')), gw.stderr(), readFileSync(join(dir, 'servers.json'), 'utf8')];
    for (const text of everywhere) expect(text).not.toContain(secretValue);
    console.log(`secret delivered via ${secretVia}`);
  });
});
