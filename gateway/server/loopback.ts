// Which listen hosts are loopback: kept apart from http.ts so a stdio gateway can ask without loading Hono.
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}
