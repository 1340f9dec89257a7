// Session bookkeeping of the Streamable HTTP server: an initialize the transport refuses opens no session, and
// leaves none behind (a session per refused request would grow without bound and never be ended or swept).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { serveHttp } from '../../gateway/server/http.js';
import type { Session } from '../../gateway/server/session.js';

const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('HTTP sessions', () => {
  const created: string[] = [];
  const discarded: string[] = [];
  const ended: string[] = [];
  let h: Awaited<ReturnType<typeof serveHttp>>;

  beforeAll(async () => {
    h = await serveHttp({
      host: '127.0.0.1',
      port: 0,
      sessionIdleMs: 60_000,
      maxBodyBytes: 1024 * 1024,
      // A stand-in with what the HTTP layer uses of a gateway session: an id, an owner and an MCP server to connect.
      createSession: (who) => {
        const server = new McpServer({ name: 'stand-in', version: '1' });
        const s = { id: randomUUID(), identity: who.identity, lastActivity: Date.now(), connect: (t: Parameters<McpServer['connect']>[0]) => server.connect(t), close: () => server.close() };
        created.push(s.id);
        return s as unknown as Session;
      },
      onSessionEnd: (s) => void ended.push(s.id),
      discardSession: async (s) => {
        discarded.push(s.id);
        await (s as unknown as { close(): Promise<void> }).close();
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const post = (headers: Record<string, string>, body: unknown) => fetch(h.url, { method: 'POST', headers, body: JSON.stringify(body) });

  it('an initialize refused by the transport (406, 415, bad params, two at once) opens no session and leaves none behind', async () => {
    const refused = [
      await post({ ...HEADERS, accept: 'application/json' }, INIT), // must accept both JSON and SSE
      await post({ ...HEADERS, 'content-type': 'text/plain' }, INIT),
      await post(HEADERS, { ...INIT, params: { capabilities: {} } }), // no protocolVersion or clientInfo
      await post(HEADERS, [INIT, { ...INIT, id: 1 }]),
    ];
    expect(refused.map((r) => r.status)).toEqual([406, 415, 400, 400]);
    for (const r of refused) expect(r.headers.get('mcp-session-id')).toBeNull();
    expect(created).toHaveLength(4);
    expect(discarded).toEqual(created); // every one of them forgotten at once, none "ended" (none began)
    expect(ended).toEqual([]);
    expect(h.sessions.size).toBe(0);
  });

  it('an accepted initialize keeps its session', async () => {
    const ok = await post(HEADERS, INIT);
    expect(ok.status).toBe(200);
    const sid = ok.headers.get('mcp-session-id');
    expect(sid).toBe(created.at(-1));
    expect(discarded).not.toContain(sid);
    expect(h.sessions.has(sid!)).toBe(true);
  });
});
