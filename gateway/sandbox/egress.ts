// Tollgate's egress proxy: HTTP forward + HTTPS CONNECT, one policy decision per host:port.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BRIDGE_SOURCE } from './bridge.js';

export interface EgressRequest {
  host: string;
  port: number;
  protocol: 'http' | 'https';
  method: string;
}

export interface EgressVerdict {
  allow: boolean;
  reason: string;
}

export interface EgressDecisionEvent extends EgressRequest {
  decision: 'allow' | 'deny';
  reason: string;
  /** true when the answer came from this proxy's per-host:port cache (the policy was not asked again). */
  cached: boolean;
}

export interface EgressProxyOptions {
  decide: (req: EgressRequest) => Promise<EgressVerdict>;
  /** Changes when the policy changes: verdicts cached under an older policy are not reused. */
  generation?: () => string;
  /**
   * Resolves and re-checks the host for every connection and returns the one checked address to dial,
   * so a name approved once cannot later resolve to loopback, private or metadata addresses.
   */
  resolve?: (host: string, port: number) => Promise<{ ok: true; address: string } | { ok: false; reason: string }>;
  /** Journals the decision; the connection waits for it, and is refused if it fails (nothing unrecorded gets out). */
  onDecision?: (e: EgressDecisionEvent) => void | Promise<void>;
}

export interface EgressProxy {
  /** Private directory (0700) holding the socket and the bridge; bind-mounted read-only into sandboxes. */
  readonly dir: string;
  /** Unix socket the in-sandbox bridge connects to. */
  readonly socketPath: string;
  /** The bridge program (CommonJS) that runs first inside a proxied sandbox. */
  readonly bridgePath: string;
  /** Loopback TCP address of the same proxy, for unsandboxed runs (which share the host network). */
  readonly url: string;
  close(): Promise<void>;
}

const PROXY_HEADERS = ['proxy-authorization', 'proxy-connection', 'proxy-authenticate'];

/** Lower-case, without IPv6 brackets or a trailing dot, so one host has one cache entry. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Parse a CONNECT target `host:port` / `[v6]:port`; undefined when malformed. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: normalizeHost(m[1]!), port };
}

export async function createEgressProxy(opts: EgressProxyOptions): Promise<EgressProxy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-egress-'));
  await chmod(dir, 0o700);
  const socketPath = path.join(dir, 'proxy.sock');
  const bridgePath = path.join(dir, 'bridge.cjs');
  await writeFile(bridgePath, BRIDGE_SOURCE, { mode: 0o500 });

  // One question per host:port for the proxy's lifetime; concurrent asks share one promise.
  const verdicts = new Map<string, Promise<EgressVerdict>>();
  const sockets = new Set<net.Socket>();

  async function decide(req: EgressRequest): Promise<EgressVerdict> {
    const key = `${opts.generation?.() ?? ''}|${req.host}:${req.port}`;
    let pending = verdicts.get(key);
    const cached = pending !== undefined;
    if (!pending) {
      pending = opts.decide(req).then(
        (v) => ({ allow: v.allow === true, reason: String(v.reason ?? '') }),
        // Fails closed; an error is not remembered, so the next connection asks again.
        () => {
          verdicts.delete(key);
          return { allow: false, reason: 'the egress policy could not be evaluated' };
        },
      );
      verdicts.set(key, pending);
    }
    const verdict = await pending;
    try {
      await opts.onDecision?.({ ...req, decision: verdict.allow ? 'allow' : 'deny', reason: verdict.reason, cached });
    } catch (e) {
      return { allow: false, reason: `the decision could not be journaled (${(e as Error).message}), so the connection is refused` };
    }
    return verdict;
  }

  function blockedBody(req: EgressRequest, reason: string): string {
    return `Tollgate blocked network access to ${req.host}:${req.port} (${req.protocol}): ${reason || 'not allowed by policy'}.\n` +
      'Do not try to work around this block; ask the user to allow the domain instead.\n';
  }

  const server = http.createServer();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  // Plain HTTP: the client sends an absolute-form URL to the proxy.
  server.on('request', (req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Tollgate egress proxy: expected an absolute http:// URL.\n');
      return;
    }
    if (target.protocol !== 'http:') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Tollgate egress proxy: only http:// is forwarded; use CONNECT for https.\n');
      return;
    }
    const er: EgressRequest = { host: normalizeHost(target.hostname), port: Number(target.port || 80), protocol: 'http', method: req.method ?? 'GET' };
    void decide(er).then(async (v) => {
      if (!v.allow) {
        res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(blockedBody(er, v.reason));
        return;
      }
      const r = opts.resolve ? await opts.resolve(er.host, er.port) : { ok: true as const, address: er.host };
      if (!r.ok) {
        res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(blockedBody(er, r.reason));
        return;
      }
      const headers = { ...req.headers };
      for (const h of PROXY_HEADERS) delete headers[h];
      const upstream = http.request(
        { host: r.address, port: er.port, method: req.method, path: target.pathname + target.search, headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`Tollgate egress proxy: ${er.host}:${er.port} unreachable (${err.code ?? 'error'}).\n`);
        else res.destroy();
      });
      req.pipe(upstream);
    });
  });

  // HTTPS (and anything else tunnelled): CONNECT host:port.
  server.on('connect', (req, client: net.Socket, head: Buffer) => {
    client.on('error', () => client.destroy());
    const authority = parseAuthority(req.url ?? '');
    if (!authority) {
      client.end('HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nTollgate egress proxy: CONNECT needs host:port.\n');
      return;
    }
    const er: EgressRequest = { ...authority, protocol: 'https', method: 'CONNECT' };
    void decide(er).then(async (v) => {
      const r = !v.allow ? { ok: false as const, reason: v.reason } : opts.resolve ? await opts.resolve(er.host, er.port) : { ok: true as const, address: er.host };
      if (!r.ok) {
        const body = blockedBody(er, r.reason);
        client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
        return;
      }
      const upstream = net.connect(er.port, r.address, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (client.writable && !upstream.readable) client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\nTollgate egress proxy: ${er.host}:${er.port} unreachable (${err.code ?? 'error'}).\n`);
        else client.destroy();
      });
      client.on('close', () => upstream.destroy());
    });
  });

  // Same proxy on loopback TCP for unsandboxed runs: connections are handed to the one HTTP server.
  const tcp = net.createServer((s) => server.emit('connection', s));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (tcp.address() as net.AddressInfo).port;

  return {
    dir,
    socketPath,
    bridgePath,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => server.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
