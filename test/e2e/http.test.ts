// The agent talks Streamable HTTP to `tollgate serve --http`; one upstream is itself a Streamable HTTP server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { announcement } from '../helpers/process.js';
import { ALLOW_ALL, FIXTURE, ROOT, TSX, configDir, runCli, httpAgent, httpGateway, textOf, until, upstreams, type HttpGateway } from '../helpers/gateway.js';

function startHttpFixture(): Promise<{ url: string; base: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', TSX, FIXTURE, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return announcement(proc, proc.stdout!, /listening (\d+)/, { what: 'fixture upstream' }).match.then((m) => ({ url: `http://127.0.0.1:${m[1]}/mcp`, base: `http://127.0.0.1:${m[1]}`, proc }));
}

/** A raw HTTP request, so tests control Host/Origin headers and bytes exactly. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** Generous, so "answered within the wait" does not depend on how busy the CI machine is. */
const JSON_WAIT_MS = 1000;
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('gateway over Streamable HTTP', () => {
  let gw: HttpGateway;
  let upstream: { url: string; base: string; proc: ChildProcess };
  let agent: Client;

  beforeAll(async () => {
    upstream = await startHttpFixture();
    // The shared agent lives through every test, so its session keeps the default idle TTL (a short one would expire
    // it between tests on a busy machine); the TTL test below runs a gateway of its own.
    const dir = configDir({ remote: { url: upstream.url }, local: upstreams.fixture() }, { ...ALLOW_ALL, listen: { jsonResponseWithinMs: JSON_WAIT_MS } });
    gw = await httpGateway(dir);
    agent = await httpAgent(gw.url, { capabilities: { elicitation: { form: {} } } }, gw.auth);
    agent.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { answer: 'over http' } }));
  });

  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    await gw?.stop();
    upstream?.proc.kill();
  });

  it('lists and calls tools of a stdio and a Streamable HTTP upstream', async () => {
    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['remote__echo', 'local__echo']));
    const r = await agent.callTool({ name: 'remote__echo', arguments: { text: 'via http' } });
    expect(r.structuredContent).toEqual({ echoed: 'via http' });
    expect(textOf(await agent.callTool({ name: 'local__echo', arguments: { text: 'via stdio' } }))).toBe('via stdio');
  });

  it('relays an upstream elicitation on the stream of the in-flight call', async () => {
    const r = await agent.callTool({ name: 'local__ask_user', arguments: { question: 'ok?' } });
    expect(textOf(r)).toBe('accept:over http');
    const r2 = await agent.callTool({ name: 'remote__ask_user', arguments: { question: 'ok?' } });
    expect(textOf(r2)).toBe('accept:over http');
  });

  it('re-initialises an HTTP upstream that lost its session (404)', async () => {
    await raw(`${upstream.base}/forget`, {});
    const r = await agent.callTool({ name: 'remote__echo', arguments: { text: 'after restart' } });
    expect(r.isError).toBeFalsy();
    expect(textOf(r)).toBe('after restart');
    expect(gw.stderr()).toMatch(/upstream remote .*reinitialized/);
  });

  it('refuses foreign Host and Origin headers (DNS rebinding)', async () => {
    const badHost = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth, host: 'evil.example:80' }, body: INIT });
    expect(badHost.status).toBe(403);
    expect(JSON.parse(badHost.body).error.message).toMatch(/Host "evil.example:80" is not allowed/);
    const badOrigin = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth, origin: 'http://evil.example' }, body: INIT });
    expect(badOrigin.status).toBe(403);
    const good = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth, origin: new URL(gw.url).origin }, body: INIT });
    expect(good.status).toBe(200);
  });

  it('answers a quick call as JSON; streams a call with progress and a call slower than listen.jsonResponseWithinMs (priming event first)', async () => {
    const init = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth }, body: INIT });
    expect(init.headers['content-type']).toBe('application/json');
    const sid = String(init.headers['mcp-session-id']);
    const h = { ...MCP_HEADERS, ...gw.auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await raw(gw.url, { headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    const call = (id: number, name: string, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
      raw(gw.url, { headers: h, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } }) });

    // The session's first call to a stdio upstream starts that upstream's process, which may well take longer than
    // the JSON wait (it streams then); once it runs, a quick call is answered as JSON.
    const first = await call(1, 'local__echo', { text: 'start' });
    expect(first.body).toContain('"text":"start"');
    const quick = await call(2, 'local__echo', { text: 'hi' });
    expect(quick.headers['content-type']).toBe('application/json');
    expect(JSON.parse(quick.body)).toMatchObject({ jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'hi' }] } });

    const progress = await call(3, 'local__slow', { steps: 2, delayMs: 1 }, { progressToken: 'p' });
    expect(progress.headers['content-type']).toBe('text/event-stream');
    expect(progress.body).toMatch(/^id: \S+\nretry: \d+\ndata: \n\n/); // the priming event comes first, as before
    expect(progress.body).toContain('"notifications/progress"');
    expect(progress.body).toContain('"id":3');

    const slow = await call(4, 'local__slow', { steps: 1, delayMs: JSON_WAIT_MS + 300 });
    expect(slow.headers['content-type']).toBe('text/event-stream');
    expect(slow.body).toContain('"id":4');
    expect(slow.body).not.toContain('notifications/progress');
  });

  it('refuses console form posts over 64 KiB before reading them (sign-in is reachable unauthenticated)', async () => {
    const origin = new URL(gw.url).origin;
    const big = await raw(`${origin}/console/login`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${'a'.repeat(100 * 1024)}` });
    expect(big.status).toBe(413);
    const small = await raw(`${origin}/console/login`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x&csrf=y' });
    expect(small.status).toBe(403); // read, and refused for its stale form token
  });

  it('answers malformed requests with protocol errors and keeps serving', async () => {
    const parse = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth }, body: '{"jsonrpc": "2.0", "id": 1, "method": ' });
    expect(parse.status).toBe(400);
    expect(JSON.parse(parse.body).error.code).toBe(-32700);
    const utf8 = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect(utf8.status).toBe(400);
    const notInit = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(notInit.status).toBe(400);
    expect(notInit.body).toMatch(/first request must be initialize/);
    const unknown = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth, 'mcp-session-id': 'no-such-session' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(unknown.status).toBe(404);
    const huge = await raw(gw.url, { headers: { ...MCP_HEADERS, ...gw.auth }, body: `{"x":"${'a'.repeat(5 * 1024 * 1024)}"}` });
    expect(huge.status).toBe(413);
    expect((await agent.listTools()).tools.length).toBeGreaterThan(0);
  });
});

describe('idle HTTP sessions', () => {
  it('ends idle sessions after the TTL and closes their upstream connections', async () => {
    const gwIdle = await httpGateway(configDir({ local: upstreams.fixture() }, { ...ALLOW_ALL, listen: { sessionIdleSeconds: 2 } }));
    try {
      const idle = await httpAgent(gwIdle.url, {}, gwIdle.auth);
      // A call on the session-isolated stdio upstream starts that session's own upstream process.
      const pid = Number(textOf(await idle.callTool({ name: 'local__pid', arguments: {} })));
      expect(() => process.kill(pid, 0)).not.toThrow();
      await until(() => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 'the idle session upstream process to exit', 20_000);
      await expect(idle.listTools()).rejects.toThrow(/404|Session not found/);
      await idle.close().catch(() => undefined);
    } finally {
      await gwIdle.stop();
    }
  });
});

describe('HTTP listener safety', () => {
  it('refuses to listen on a non-loopback address without authentication, or without the https address agents use', async () => {
    const dir = configDir({ local: upstreams.fixture() }, { auth: { required: false } });
    const r = await runCli(['serve', '--http', '0.0.0.0:0', '--config', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 with auth.required false/);
    const noUrl = await runCli(['serve', '--http', '0.0.0.0:0', '--config', configDir({ local: upstreams.fixture() }, {})]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/listening on 0\.0\.0\.0 \(not loopback\) needs listen\.publicUrl in tollgate\.json: the https:\/\/ address/);
    const plain = await runCli(['serve', '--http', '0.0.0.0:0', '--config', configDir({ local: upstreams.fixture() }, { listen: { publicUrl: 'http://tollgate.example.test' } })]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/listen\.publicUrl: must be an https:\/\/ URL/);
  });

  it('behind a TLS proxy (listen.publicUrl): names the public address in its OAuth metadata, accepts its Host, and sets Secure cookies', async () => {
    const dir = configDir({ local: upstreams.fixture() }, { ...ALLOW_ALL, listen: { publicUrl: 'https://tollgate.example.test' } });
    const gw2 = await httpGateway(dir);
    try {
      const origin = new URL(gw2.url).origin;
      const meta = (await (await fetch(`${origin}/.well-known/oauth-protected-resource`)).json()) as { resource: string };
      expect(meta.resource).toBe('https://tollgate.example.test/mcp');
      const unauth = await fetch(gw2.url, { method: 'POST', headers: MCP_HEADERS, body: INIT });
      expect(unauth.headers.get('www-authenticate')).toContain('resource_metadata="https://tollgate.example.test/.well-known/oauth-protected-resource"');
      // what a proxy forwards: the public Host (and, from a browser, the public Origin)
      const viaProxy = await raw(gw2.url, { headers: { ...MCP_HEADERS, ...gw2.auth, host: 'tollgate.example.test', origin: 'https://tollgate.example.test' }, body: INIT });
      expect(viaProxy.status).toBe(200);
      const login = await raw(`${origin}/console/login`, { method: 'GET', headers: { host: 'tollgate.example.test' } });
      expect(String(login.headers['set-cookie'])).toMatch(/; Secure/);
    } finally {
      await gw2.stop();
    }
  });
});

describe('a legacy HTTP+SSE upstream', () => {
  it('is reached by falling back from Streamable HTTP, and with "type": "sse"', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => ok(p));
      });
    });
    const everything = spawn(process.execPath, [join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js'), 'sse'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await announcement(everything, everything.stderr!, /running on port/, { what: 'the legacy SSE server' }).match;
      const dir = configDir({ guessed: { url: `http://127.0.0.1:${port}/sse` }, declared: { type: 'sse', url: `http://127.0.0.1:${port}/sse` } }, ALLOW_ALL);
      const gw = await httpGateway(dir);
      try {
        const agent = await httpAgent(gw.url, {}, gw.auth);
        for (const server of ['guessed', 'declared']) {
          const r = await agent.callTool({ name: `${server}__echo`, arguments: { message: `via ${server}` } });
          expect(textOf(r)).toContain(`via ${server}`);
        }
        await agent.close();
      } finally {
        await gw.stop();
      }
    } finally {
      everything.kill();
    }
  });
});
