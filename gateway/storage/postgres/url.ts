// A Postgres URL as Tollgate prints it: never with its password, always naming host and port.
import { redactUrlPassword } from '../../secrets/known.js';

/** host:port of a postgres:// URL (default port 5432). */
export function endpointOf(url: string): { host: string; port: number; database: string; user: string } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 5432, database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres', user: decodeURIComponent(u.username) };
}

/** The URL with its password (and any password= query parameter) replaced by `***`: safe for logs and errors. */
export const redactUrl = (url: string): string => redactUrlPassword(url);
