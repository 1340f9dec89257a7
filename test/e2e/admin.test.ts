// The running gateway and its admin: its own words journaled verbatim, reloads and servers.json edits announced and journaled.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../gateway/commands.js';
import { loadRecords } from '../../gateway/audit/verify.js';
import { configDir, httpGateway, runCli, stdioAgent, textOf, until, upstreams, type StdioAgent } from '../helpers/gateway.js';

/** The journal's admin acts, read from the files (the audit CLI needs a valid tollgate.json, and this test breaks it on purpose). */
async function adminActs(dir: string): Promise<Array<Record<string, unknown>>> {
  return (await loadRecords(join(dir, '.tollgate', 'audit'))).map((l) => l.record as Record<string, unknown>).filter((r) => r.name === 'tollgate.admin_action');
}

async function query(dir: string, ...filters: string[]): Promise<Array<Record<string, unknown>>> {
  let stdout = '';
  const out = new PassThrough().on('data', (c) => (stdout += c));
  const code = await main(['audit', 'query', '--json', '--config', dir, ...filters], { stdin: new PassThrough(), stdout: out, stderr: new PassThrough(), env: { TOLLGATE_REQUIREMENTS: '' }, cwd: dir });
  expect(code).toBe(0);
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

let agent: StdioAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

const RULES = { rules: [{ id: 'no-secrets', tool: 'fx__echo', decision: 'deny', justification: 'never send secrets: tokens stay home' }] };

describe('the gateway as its admin sees it', () => {
  it('journals its own rule names and reasons verbatim, and still redacts the arguments', async () => {
    const dir = configDir({ fx: upstreams.fixture() }, RULES);
    agent = await stdioAgent(dir, {}, { TOLLGATE_REQUIREMENTS: '' });
    const r = await agent.client.callTool({ name: 'fx__echo', arguments: { text: 'API_TOKEN=abcdef0123456789' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain('no-secrets');
    const decision = await until(async () => (await query(dir, '--event', 'policy_decision', '--tool', 'fx__echo'))[0], 'the policy decision');
    expect(decision.reasons).toEqual(['rule no-secrets: deny — never send secrets: tokens stay home']);
    expect(decision.matched).toEqual(['no-secrets']);
    const call = (await query(dir, '--event', 'tool_call', '--tool', 'fx__echo'))[0]!;
    expect(JSON.stringify(call.arguments)).not.toContain('abcdef0123456789');
  }, 60_000);

  it('journals a rejected and an applied reload, and says a servers.json edit needs a restart', async () => {
    const dir = configDir({ fx: upstreams.fixture() }, RULES);
    agent = await stdioAgent(dir, {}, { TOLLGATE_REQUIREMENTS: '' });
    await agent.client.listTools();

    writeFileSync(join(dir, 'tollgate.json'), '{ "approvals": { "mode": "yolo" } }');
    const rejected = await until(async () => (await adminActs(dir)).find((a) => a.action === 'config.reload_rejected'), 'reload_rejected');
    expect(rejected).toMatchObject({ actor: 'gateway', channel: 'gateway', target: join(dir, 'tollgate.json') });
    expect(rejected.detail).toMatch(/approvals\.mode/);

    writeFileSync(join(dir, 'tollgate.json'), '// stricter now\n{ "approvals": { "mode": "never-ask", }, "rules": [] }');
    const applied = await until(async () => (await adminActs(dir)).find((a) => a.action === 'config.reloaded'), 'config.reloaded');
    expect(applied.before).toBe(rejected.before);
    expect(applied.after).not.toBe(applied.before);

    writeFileSync(join(dir, 'servers.json'), JSON.stringify({ mcpServers: { fx: upstreams.fixture(), fx2: upstreams.fixture() } }));
    await until(() => /servers are not reloaded while serving: restart the gateway to apply it/.test(agent!.stderr()), 'the restart warning');
    await until(async () => (await adminActs(dir)).find((a) => a.action === 'config.restart_needed'), 'restart_needed');

    writeFileSync(join(dir, 'servers.json'), '{ "mcpServers": { "fx": { "comand": "node" } } }');
    await until(() => /servers\.json changed and is invalid.*\n.*mcpServers\.fx: expected an object with "command"/.test(agent!.stderr()), 'the invalid-edit warning');
  }, 90_000);
});

describe('an admin act beside a running gateway', () => {
  it('is journaled in a chain of its own while the gateway writes its chain, and verify checks both', async () => {
    const dir = configDir({ fx: upstreams.fixture() });
    agent = await stdioAgent(dir, {}, { TOLLGATE_REQUIREMENTS: '' });
    await agent.client.listTools();
    const r = await runCli(['tokens', 'create', 'ci', '--config', dir], { env: { TOLLGATE_REQUIREMENTS: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tg_/);
    expect(r.stderr).not.toMatch(/NOT journaled/);
    const q = await runCli(['audit', 'query', '--format', 'jsonl', '--config', dir], { env: { TOLLGATE_REQUIREMENTS: '' } });
    expect(q.code, q.stderr).toBe(0);
    const acts = q.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.name === 'tollgate.admin_action');
    expect(acts).toEqual([expect.objectContaining({ action: 'tokens.create', channel: 'cli', actor: expect.stringMatching(/^local:/) })]);
    const v = await runCli(['audit', 'verify', '--config', dir], { env: { TOLLGATE_REQUIREMENTS: '' } });
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 60_000);
});

describe('npm start / serve --http', () => {
  it('says where the console is and how to sign in', async () => {
    const dir = configDir({ fx: upstreams.fixture() });
    const gw = await httpGateway(dir, { TOLLGATE_REQUIREMENTS: '' });
    try {
      const origin = new URL(gw.url).origin;
      await until(() => gw.stderr().includes('console at'), 'the console line');
      expect(gw.stderr()).toContain(`console at ${origin}/console: sign in with a token in the "admin" group; none exists yet: create one with \`tollgate tokens create NAME --group admin --config ${dir}\``);
    } finally {
      await gw.stop();
    }
  }, 60_000);
});
