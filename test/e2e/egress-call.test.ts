// Issue 16 item 4 end to end: a shell command's network decisions belong to its call. An SDK Client agent drives
// `tollgate serve --stdio` with a proxied shell upstream; bubblewrap, the egress proxy and the destination (a loopback
// HTTP server) are real.
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { configDir, runCli, stdioAgent, textOf, until, type StdioAgent } from '../helpers/gateway.js';
import { commandIs, readJournal, storyOf, type JournalLine } from './audit-support/journal.js';

describe('egress decisions are the call\'s own', () => {
  let dir: string;
  let dataDir: string;
  let agent: StdioAgent;
  let srv: http.Server;
  let port: number;
  // A host name the policy does not know (so a person is asked) that resolves to a local address the test server
  // listens on: this machine's own name (/etc/hosts maps it, to 127.0.x.x here, to a container's own address), or
  // Debian's ip6-localhost (::1).
  let host: string;
  let address: string;
  const hits: string[] = [];
  const asked: string[] = [];

  const exec = async (command: string, extra: Record<string, unknown> = {}) =>
    (await agent.client.callTool({ name: 'web__exec', arguments: { command, ...extra } })) as CallToolResult;
  const journal = () => readJournal(dataDir);
  const callOf = (command: string) => storyOf(journal(), commandIs(command));
  const sessionStart = () => journal().find((r) => r.name === 'tollgate.session_start' && r.sessionId)!;
  const pending = async () => JSON.parse((await runCli(['approvals', 'list', '--json', '--config', dir])).stdout) as Record<string, unknown>[];

  beforeAll(async () => {
    for (const name of [os.hostname().toLowerCase(), 'ip6-localhost', 'ip6-loopback']) {
      if (/^[\d.]+$|\.local$|\.internal$|^localhost$|\.localhost$/.test(name)) continue; // names policy treats as local-only
      const found = await lookup(name).catch(() => undefined);
      if (found) {
        [host, address] = [name, found.address];
        break;
      }
    }
    expect(address!, 'this test needs a host name that resolves to a local address (the machine\'s own name, or ip6-localhost in /etc/hosts)').toBeDefined();
    srv = http.createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.end('hello from the loopback test server\n');
    });
    await new Promise<void>((r) => srv.listen(0, address, () => r()));
    port = (srv.address() as AddressInfo).port;
    dir = configDir(
      { web: { type: 'shell', roots: ['./workspace'], network: 'proxy' } },
      {
        rules: [{ id: 'e2e-shell', shell: ['*'], decision: 'allow', sandbox: 'workspace-write', justification: 'e2e: the sandbox and its egress are under test' }],
        // The test server's address is a private one the admin explicitly allows; the host name itself is unknown → ask.
        network: { allowedDomains: [], allowPrivate: [address] },
        sandbox: { network: 'proxy' },
        approvals: { mode: 'human' },
        dataDir: './.tollgate',
      },
    );
    dataDir = join(dir, '.tollgate');
    agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
    // The person behind the agent approves every command once.
    agent.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return { action: 'accept', content: { decision: 'approve_once' } };
    });
  });

  afterAll(async () => {
    await agent?.close();
    await new Promise<void>((r) => {
      srv?.closeAllConnections();
      srv?.close(() => r());
    });
  });

  it('shows the hosts a command reaches on its approval question, and approving it lets that run reach them with no second question', async () => {
    const cmd = `curl -sS --max-time 20 http://${host}:${port}/with-the-command`;
    const r = await exec(cmd);
    expect(textOf(r)).toContain('hello from the loopback test server');
    expect(hits).toContain('GET /with-the-command');
    // One question, for the command, naming the host it connects to.
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain(`It will connect to: ${host}.`);
    expect(asked[0]).toContain(cmd);
    expect(await pending()).toEqual([]);
    const { callId, steps } = callOf(cmd);
    expect(steps.filter((s) => s.name === 'tollgate.human_decision')).toHaveLength(1);
    // The network decision is the call's: its session, call id, identity, client, and the person's approval.
    const s = sessionStart();
    const net = journal().filter((e) => e.name === 'tollgate.network_decision' && e.host === host);
    expect(net).toEqual([
      expect.objectContaining({
        callId, sessionId: s.sessionId, identity: s.identity, server: 'web', tool: 'web__exec', clientName: 'test-agent', clientVersion: '1.0.0',
        port, protocol: 'http', method: 'GET', decision: 'allow', source: 'user', runId: expect.any(String),
      }),
    ]);
    expect(String(net[0]!.reasons)).toMatch(/approved with the command by/);
    expect(JSON.stringify(net)).not.toContain('sandbox-egress');
  });

  it('`tollgate audit explain CALL_ID` includes the call\'s egress decisions', async () => {
    const cmd = `curl -sS --max-time 20 http://${host}:${port}/with-the-command`;
    const { callId } = callOf(cmd);
    const r = await runCli(['audit', 'explain', callId, '--config', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`network\\s+GET http://${host}:${port} allow by user — approved with the command by`));
    // and before the result, as it happened
    expect(r.stdout.indexOf('network')).toBeLessThan(r.stdout.indexOf('result'));
  });

  it('a host the analysis could not see is asked as the call (session, identity), and the question is withdrawn when the command ends', async () => {
    // The host is behind a variable: the command's question cannot name it, so the proxy asks when curl connects.
    const cmd = `H=${host}; curl -sS --max-time 30 http://$H:${port}/asked-later`;
    const s = sessionStart();
    const call = exec(cmd, { timeoutSeconds: 4 });
    const waiting = await until(async () => (await pending()).find((i) => i.tool === 'network'), 'the egress question in the approvals queue');
    expect(waiting).toMatchObject({ sessionId: s.sessionId, identity: s.identity, server: 'web', client: { name: 'test-agent', version: '1.0.0' } });
    expect(waiting.arguments).toMatchObject({ host, port, protocol: 'http' });
    const r = await call;
    expect(r.structuredContent).toMatchObject({ timedOut: true });
    expect(hits).not.toContain('GET /asked-later');
    // Gone with its command: nothing pending afterwards, and the withdrawal is on record as this call's.
    expect(await pending()).toEqual([]);
    const { callId } = callOf(cmd);
    const net = journal().filter((e): e is JournalLine => e.name === 'tollgate.network_decision' && e.callId === callId);
    expect(net).toEqual([expect.objectContaining({ host, port, decision: 'deny', source: 'withdrawn', sessionId: s.sessionId, identity: s.identity, approvalId: waiting.id })]);
    expect(String(net[0]!.reasons)).toMatch(/withdrawn: the command timed out after 4 s and was killed before a person answered/);
    const human = journal().filter((e) => e.name === 'tollgate.human_decision' && e.callId === callId && e.approvalId === waiting.id);
    expect(human).toEqual([expect.objectContaining({ decision: 'cancel', answeredBy: 'gateway' })]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await pending()).toEqual([]); // and it does not come back
  });
});
