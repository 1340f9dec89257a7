// Resilience of the wired gateway under faults: upstream crashes in a burst, OTLP down, a slow upstream,
// clients that vanish mid-call, and hostile bytes on /mcp. Every case ends with the gateway still serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ALLOW_ALL, configDir, httpAgent, httpGateway, tempDir, textOf, until, upstreams, type HttpGateway } from '../helpers/gateway.js';

type Rec = Record<string, unknown> & { name: string };

function journal(dir: string): Rec[] {
  const audit = join(dir, '.tollgate', 'audit');
  if (!existsSync(audit)) return [];
  return readdirSync(audit)
    .filter((f) => /^journal-\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(join(audit, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec));
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Raw HTTP, so the test controls the bytes, the framing and when the connection goes away. */
function raw(url: string, opts: { headers?: Record<string, string>; body?: Buffer | string | Buffer[]; method?: string; partial?: boolean }): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  const whole = opts.body === undefined ? Buffer.alloc(0) : Array.isArray(opts.body) ? Buffer.concat(opts.body) : Buffer.from(opts.body);
  // Declared length unless the caller asked for chunked framing.
  const headers = { ...opts.headers };
  if (!headers['transfer-encoding']) headers['content-length'] = String(whole.length);
  return new Promise((ok, fail) => {
    let responded = false;
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers, agent: false }, (res) => {
      responded = true;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        ok({ status: res.statusCode ?? 0, body, headers: res.headers });
        req.destroy();
      });
    });
    // A server that refuses a body early may close while we still write it (EPIPE): its answer still counts.
    req.on('error', (e) => setTimeout(() => responded || fail(e), 1000));
    // Large bodies go out in pieces, and stop once the server has answered (as a real client would).
    void (async () => {
      const upTo = opts.partial ? Math.min(whole.length, 64 * 1024) : whole.length;
      for (let off = 0; off < upTo && !responded; off += 256 * 1024) {
        await new Promise<void>((done) => req.write(whole.subarray(off, Math.min(upTo, off + 256 * 1024)), () => done()));
      }
      if (!responded && !opts.partial) req.end();
    })().catch(() => undefined);
  });
}

const MCP = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

/** The JSON-RPC message(s) of a JSON or SSE response body. */
function messages(body: string): Array<Record<string, unknown>> {
  const data = body.includes('data:') ? body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()) : [body];
  return data.filter(Boolean).map((d) => JSON.parse(d) as Record<string, unknown>);
}

/** GETs an SSE stream and reads it until a message matches (then leaves it): a resumed stream may stay open. */
async function sseUntil(url: string, headers: Record<string, string>, match: (m: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    for (;;) {
      const found = messages(text.slice(0, text.lastIndexOf('\n\n') + 1)).find(match);
      if (found) return found;
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended without the message; it carried: ${text}`);
      text += Buffer.from(value).toString('utf8');
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

async function rawSession(gw: HttpGateway): Promise<Record<string, string>> {
  const init = await raw(gw.url, { headers: { ...MCP, ...gw.auth }, body: INIT });
  expect(init.status).toBe(200);
  const headers = { ...MCP, ...gw.auth, 'mcp-session-id': String(init.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' };
  const ack = await raw(gw.url, { headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  expect(ack.status).toBe(202);
  return headers;
}

describe('gateway resilience (HTTP agent, stdio upstream, OTLP endpoint down throughout)', () => {
  let gw: HttpGateway;
  let dir: string;
  let events: string;
  let agent: Client;

  beforeAll(async () => {
    events = join(tempDir(), 'events.log');
    const otlpPort = await closedPort();
    dir = configDir({ fx: upstreams.fixture({ FIXTURE_EVENTS_FILE: events }) }, { ...ALLOW_ALL, audit: { otlp: { endpoint: `http://127.0.0.1:${otlpPort}/v1/logs` } } });
    gw = await httpGateway(dir);
    agent = await httpAgent(gw.url, {}, gw.auth);
  });

  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    await gw?.stop();
  });

  const alive = () => gw.proc.exitCode === null && gw.proc.signalCode === null;
  const sessionId = () => (agent as unknown as { transport: { sessionId: string } }).transport.sessionId;

  it('a burst with upstream crashes injected: every call is answered, each failure names the server, no decision is missing', async () => {
    const before = await agent.callTool({ name: 'fx__pid', arguments: {} });
    const firstPid = Number(textOf(before));
    const N = 60;
    const crashAt = new Set([10, 30, 50]);
    const outcomes = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 5)); // spread the burst so calls land before, during and after each crash
        const name = crashAt.has(i) ? 'fx__crash' : 'fx__echo';
        const r = await agent.request({ method: 'tools/call', params: { name, arguments: name === 'fx__echo' ? { text: `call ${i}` } : {} } }, CallToolResultSchema, { timeout: 20_000 });
        return { i, name, isError: r.isError === true, text: textOf(r) };
      }),
    );
    expect(outcomes).toHaveLength(N);
    for (const o of outcomes) {
      if (o.isError) expect(o.text, `call ${o.i}`).toMatch(/"fx"/);
      else expect(o.text).toBe(`call ${o.i}`);
    }
    for (const i of crashAt) expect(outcomes[i]!.isError).toBe(true);
    expect(outcomes.filter((o) => !o.isError).length).toBeGreaterThan(0);
    expect(readFileSync(events, 'utf8')).toMatch(/crash/);

    // The upstream comes back by itself (a new process) and serves again.
    const pid = await until(async () => {
      const r = await agent.callTool({ name: 'fx__pid', arguments: {} });
      return r.isError ? undefined : Number(textOf(r));
    }, 'the crashed upstream to be restarted');
    expect(pid).not.toBe(firstPid);

    // Every call is in the journal; every call that reached the upstream has its decision recorded first.
    const sid = sessionId();
    const mine = () => journal(dir).filter((r) => r.sessionId === sid && (r.tool === 'fx__echo' || r.tool === 'fx__crash'));
    await until(() => mine().filter((r) => r.name === 'tollgate.tool_result').length >= N, 'every tool_result to be journaled');
    const recs = mine();
    const calls = recs.filter((r) => r.name === 'tollgate.tool_call');
    const decisions = new Map(recs.filter((r) => r.name === 'tollgate.tool_decision').map((r) => [r.callId, r]));
    const results = recs.filter((r) => r.name === 'tollgate.tool_result');
    expect(calls).toHaveLength(N);
    expect(results).toHaveLength(N);
    const succeeded = results.filter((r) => r.success === true);
    expect(succeeded).toHaveLength(outcomes.filter((o) => !o.isError).length);
    for (const r of succeeded) expect(decisions.get(r.callId), `decision for ${String(r.callId)}`).toMatchObject({ decision: 'approved', source: 'rule' });
    // A call without a decision never got past routing (the upstream was down): its result says so.
    for (const r of results) if (!decisions.has(r.callId)) expect(String(r.error)).toMatch(/"fx"/);
    expect(alive()).toBe(true);
  }, 45_000);

  it('with the OTLP endpoint down, calls proceed and are journaled', async () => {
    const texts = await Promise.all(Array.from({ length: 20 }, (_, i) => agent.callTool({ name: 'fx__echo', arguments: { text: `otlp ${i}` } }).then(textOf)));
    expect(texts).toEqual(Array.from({ length: 20 }, (_, i) => `otlp ${i}`));
    const sid = sessionId();
    await until(() => journal(dir).filter((r) => r.sessionId === sid && r.name === 'tollgate.tool_decision' && String((r as { reasons?: unknown }).reasons ?? '').length > 0).length >= 20, 'the decisions to be journaled');
    expect(alive()).toBe(true);
  });

  it('a slow upstream call does not block other calls, in the same session or another', async () => {
    let slowDone = false;
    const slow = agent.callTool({ name: 'fx__slow', arguments: { steps: 30, delayMs: 100 } }).then((r) => {
      slowDone = true;
      return r;
    });
    const other = await httpAgent(gw.url, {}, gw.auth);
    try {
      const same = await Promise.all([1, 2, 3].map((i) => agent.callTool({ name: 'fx__echo', arguments: { text: `same ${i}` } }).then(textOf)));
      const elsewhere = await Promise.all([1, 2, 3].map((i) => other.callTool({ name: 'fx__echo', arguments: { text: `other ${i}` } }).then(textOf)));
      expect(same).toEqual(['same 1', 'same 2', 'same 3']);
      expect(elsewhere).toEqual(['other 1', 'other 2', 'other 3']);
      expect(slowDone).toBe(false);
    } finally {
      await other.close();
    }
    expect(textOf(await slow)).toBe('done 30');
  });

  /** POSTs a call and reads its SSE stream up to the first progress notification; `drop` then leaves without a word. */
  async function untilProgress(headers: Record<string, string>, call: unknown): Promise<{ eventIds: string[]; drop: () => void }> {
    const ac = new AbortController();
    const res = await fetch(gw.url, { method: 'POST', headers, body: JSON.stringify(call), signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('notifications/progress')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += Buffer.from(value).toString('utf8');
    }
    expect(seen).toContain('notifications/progress');
    const eventIds = [...seen.matchAll(/^id: ?(.+)$/gm)].map((m) => m[1]!);
    expect(eventIds.length).toBeGreaterThan(0); // the priming event at least: the stream can be resumed
    return { eventIds, drop: () => ac.abort() };
  }

  it('a client that drops its connection mid-call: the upstream call is cancelled and the session keeps working', async () => {
    const headers = await rawSession(gw);
    const sid = headers['mcp-session-id']!;
    // Wait until the call is running upstream (its first progress arrives), then vanish without a word.
    const call = await untilProgress(headers, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'fx__slow', arguments: { steps: 100, delayMs: 100 }, _meta: { progressToken: 'p1' } } });
    const primingId = call.eventIds[0];
    call.drop();
    // The stream carried an event id, so the call runs on for a grace period (the agent may resume it), then stops.
    await until(() => existsSync(events) && /cancelled/.test(readFileSync(events, 'utf8')), 'the upstream to see the cancellation');
    expect(readFileSync(events, 'utf8')).not.toMatch(/completed slow 100/);
    const result = await until(() => journal(dir).find((r) => r.sessionId === sid && r.name === 'tollgate.tool_result' && r.tool === 'fx__slow'), 'the cancelled call to be journaled');
    expect(result).toMatchObject({ success: false });
    // A resume after the grace period gets an answer rather than waiting on a call nobody runs any more.
    const late = await sseUntil(gw.url, { ...headers, accept: 'text/event-stream', 'last-event-id': primingId! }, (m) => m.id === 7);
    expect(late).toMatchObject({ error: { code: -32800, message: expect.stringMatching(/agent disconnected/) } });
    // The session is still usable.
    const again = await raw(gw.url, { headers, body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'fx__echo', arguments: { text: 'still here' } } }) });
    expect(messages(again.body).find((m) => m.id === 8)).toMatchObject({ result: { content: [{ type: 'text', text: 'still here' }] } });
  }, 30_000);

  it('a client that drops its stream and resumes it with Last-Event-ID gets the answer; the call is not cancelled', async () => {
    const headers = await rawSession(gw);
    const { eventIds, drop } = await untilProgress(headers, { jsonrpc: '2.0', id: 21, method: 'tools/call', params: { name: 'fx__slow', arguments: { steps: 8, delayMs: 150 }, _meta: { progressToken: 'p21' } } });
    drop();
    await new Promise((r) => setTimeout(r, 300)); // the SDK client waits `retry` (1 s); any time within the grace does
    const answer = await sseUntil(gw.url, { ...headers, accept: 'text/event-stream', 'last-event-id': eventIds.at(-1)! }, (m) => m.id === 21);
    expect(answer).toMatchObject({ result: { content: [{ type: 'text', text: 'done 8' }] } });
    const lines = readFileSync(events, 'utf8');
    expect(lines).toMatch(/completed slow 8/);
    expect(lines).not.toMatch(/cancelled 21\b/);
  }, 30_000);

  it('a client that ends its session mid-call: the session ends and its upstream process is gone', async () => {
    const leaving = await httpAgent(gw.url, {}, gw.auth);
    const sid = (leaving as unknown as { transport: { sessionId: string } }).transport.sessionId;
    const upstreamPid = Number(textOf(await leaving.callTool({ name: 'fx__pid', arguments: {} })));
    expect(() => process.kill(upstreamPid, 0)).not.toThrow();
    const pending = leaving.callTool({ name: 'fx__slow', arguments: { steps: 100, delayMs: 100 } }).catch((e: Error) => e);
    await until(() => journal(dir).find((r) => r.sessionId === sid && r.name === 'tollgate.tool_decision' && r.tool === 'fx__slow'), 'the slow call to be forwarded');
    const transport = (leaving as unknown as { transport: { terminateSession(): Promise<void> } }).transport;
    await transport.terminateSession();
    await leaving.close();
    // Either the client gave up on it or the gateway answered it as failed: never a success, never a hang.
    const outcome = await pending;
    if (!(outcome instanceof Error)) expect(outcome.isError).toBe(true);
    await until(() => journal(dir).find((r) => r.sessionId === sid && r.name === 'tollgate.session_end'), 'the session end to be journaled');
    await until(() => {
      try {
        process.kill(upstreamPid, 0);
        return false;
      } catch {
        return true;
      }
    }, "the session's upstream process to exit");
    const gone = await raw(gw.url, { headers: { ...MCP, ...gw.auth, 'mcp-session-id': sid }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(gone.status).toBe(404);
  }, 30_000);

  describe('hostile bytes on /mcp get protocol errors, never a crash', () => {
    let headers: Record<string, string>;
    beforeAll(async () => {
      headers = await rawSession(gw);
    });

    const expectJsonRpcError = (r: { status: number; body: string }, status: number | number[], code?: number) => {
      expect(Array.isArray(status) ? status : [status]).toContain(r.status);
      const [m] = messages(r.body);
      expect(m).toMatchObject({ jsonrpc: '2.0', error: { code: code ?? expect.any(Number) } });
    };

    it('malformed JSON-RPC inside a session', async () => {
      expectJsonRpcError(await raw(gw.url, { headers, body: '{"jsonrpc":"2.0","id":1,"method":' }), 400, -32700);
      expectJsonRpcError(await raw(gw.url, { headers, body: '{"hello":"world"}' }), 400);
      expectJsonRpcError(await raw(gw.url, { headers, body: '[]' }), 400);
      expectJsonRpcError(await raw(gw.url, { headers, body: '42' }), 400);
      const badParams = await raw(gw.url, { headers, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 42 } }) });
      expect(messages(badParams.body).find((m) => m.id === 3)).toMatchObject({ error: { code: expect.any(Number) } });
      const unknown = await raw(gw.url, { headers, body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'no/such/method' }) });
      expect(messages(unknown.body).find((m) => m.id === 4)).toMatchObject({ error: { code: -32601 } });
    });

    it('oversized bodies, declared or chunked, with and without a session', async () => {
      const big = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fx__echo","arguments":{"text":"${'a'.repeat(5 * 1024 * 1024)}"}}}`;
      // Declared too large: refused from the header, so the client sends only the start and waits for the answer.
      expectJsonRpcError(await raw(gw.url, { headers, body: big, partial: true }), 413);
      expectJsonRpcError(await raw(gw.url, { headers: { ...MCP, ...gw.auth }, body: big, partial: true }), 413);
      // No Content-Length: the limit must hold while reading, not only from the header.
      const chunks = [Buffer.from(big.slice(0, 1024)), ...Array.from({ length: 5 }, () => Buffer.alloc(1024 * 1024, 0x61)), Buffer.from('"}}}')];
      expectJsonRpcError(await raw(gw.url, { headers: { ...headers, 'transfer-encoding': 'chunked' }, body: chunks }), [400, 413]);
      expectJsonRpcError(await raw(gw.url, { headers: { ...MCP, ...gw.auth, 'transfer-encoding': 'chunked' }, body: chunks }), [400, 413]);
    });

    it('invalid UTF-8, before and inside a session', async () => {
      const bad = (prefix: string, suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(suffix)]);
      expectJsonRpcError(await raw(gw.url, { headers: { ...MCP, ...gw.auth }, body: bad('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"', '","version":"1"}}}') }), 400, -32700);
      expectJsonRpcError(await raw(gw.url, { headers, body: bad('{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"fx__echo","arguments":{"text":"', '"}}}') }), 400, -32700);
    });

    afterAll(async () => {
      // Still serving: the existing agent and a fresh session both work.
      expect(alive()).toBe(true);
      expect(textOf(await agent.callTool({ name: 'fx__echo', arguments: { text: 'after the hostile bytes' } }))).toBe('after the hostile bytes');
      const fresh = await httpAgent(gw.url, {}, gw.auth);
      expect((await fresh.listTools()).tools.length).toBeGreaterThan(0);
      await fresh.close();
      expect(gw.stderr()).not.toMatch(/uncaught|unhandled|TypeError|RangeError/i);
    });
  });
});
