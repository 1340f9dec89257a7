// Serves the conformance fixture upstream over Streamable HTTP by itself (no gateway), to measure what the upstream alone passes.
import { createServer, type IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport, type EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { buildConformanceServer } from '../fixtures/conformance-upstream.js';

/** Keeps every event in memory so a client that lost its SSE stream can resume with Last-Event-ID. */
class MemoryEventStore implements EventStore {
  private readonly events: Array<{ id: string; stream: string; message: JSONRPCMessage }> = [];

  async storeEvent(stream: string, message: JSONRPCMessage): Promise<string> {
    const id = `${stream}_${this.events.length}`;
    this.events.push({ id, stream, message });
    return id;
  }

  async getStreamIdForEventId(id: string): Promise<string | undefined> {
    return this.events.find((e) => e.id === id)?.stream;
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (id: string, m: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const at = this.events.findIndex((e) => e.id === lastEventId);
    if (at < 0) return '';
    const stream = this.events[at]!.stream;
    for (const e of this.events.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message);
    return stream;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const transports = new Map<string, StreamableHTTPServerTransport>();
let port = 0;
const loopbackHosts = () => new Set(['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`));

const http = createServer(async (req, res) => {
  const fail = (status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
  };
  try {
    // DNS-rebinding defence, as any loopback MCP server must have.
    const hosts = loopbackHosts();
    if (!hosts.has(req.headers.host ?? '')) return fail(403, `Host ${req.headers.host} is not allowed`);
    const origin = req.headers.origin;
    if (origin && ![...hosts].some((h) => origin === `http://${h}`)) return fail(403, `Origin ${origin} is not allowed`);
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') return fail(404, 'MCP is served at /mcp');

    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const t = transports.get(sid);
      if (!t) return fail(404, 'Session not found');
      return await t.handleRequest(req, res);
    }
    if (req.method !== 'POST') return fail(400, 'Missing Mcp-Session-Id header');
    const body = await readJson(req);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: 500,
      onsessioninitialized: (id) => void transports.set(id, transport),
      onsessionclosed: (id) => void transports.delete(id),
    });
    await buildConformanceServer().connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (e) {
    if (!res.headersSent) fail(500, (e as Error).message);
  }
});

const listen = process.argv[2] ?? '127.0.0.1:0';
const [host, p] = listen.split(':') as [string, string];
http.listen(Number(p), host, () => {
  port = (http.address() as AddressInfo).port;
  process.stderr.write(`conformance-direct: serving MCP at http://${host}:${port}/mcp\n`);
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const t of transports.values()) void t.close();
    http.close(() => process.exit(0));
    http.closeAllConnections();
  });
}
