// Admin sign-in for the console: an admin-group token is exchanged for a short-lived session cookie with its own CSRF token.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { TokenStore } from '../server/auth/index.js';

/** A signed-in admin as the console knows them. */
export interface Admin {
  /** `token:<name>`, the same form agents' identities take; recorded as the approver. */
  identity: string;
  tokenId: string;
  /** Synchronizer token every POST form must carry. */
  csrf: string;
}

interface AdminSession extends Admin {
  created: number;
  lastSeen: number;
}

export interface AdminSessionsOptions {
  tokens: TokenStore;
  /** Token group that may use the console. */
  adminGroup: string;
  /** Cookie path: where the console is mounted. */
  basePath: string;
  idleMs: number;
  maxAgeMs: number;
  /** Mark cookies Secure even when the request reached us as plain HTTP (TLS ends at a proxy in front). */
  secureCookies?: boolean;
  now?: () => number;
}

export const SESSION_COOKIE = 'tollgate_console';
export const LOGIN_COOKIE = 'tollgate_console_login';

export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** A form post must come from our own pages: Origin (or, without it, Sec-Fetch-Site) must say same origin. */
export function sameOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (!origin || origin === 'null') return !origin && c.req.header('sec-fetch-site') !== 'cross-site';
  try {
    return new URL(origin).host === (c.req.header('host') ?? new URL(c.req.url).host);
  } catch {
    return false;
  }
}

const secure = (c: Context) => new URL(c.req.url).protocol === 'https:';

/**
 * Sessions live in memory only: a restart signs every admin out, which is the safe direction.
 * Each request re-checks the token, so revoking it (or removing it from the admin group) ends its sessions.
 */
export function adminSessions(opts: AdminSessionsOptions) {
  const now = opts.now ?? Date.now;
  const sessions = new Map<string, AdminSession>();

  const sweep = () => {
    const t = now();
    for (const [id, s] of sessions) if (t - s.lastSeen > opts.idleMs || t - s.created > opts.maxAgeMs) sessions.delete(id);
  };

  return {
    /** Verifies a presented token; on success starts a fresh session (never reusing an old id) and sets the cookie. */
    async signIn(c: Context, token: string): Promise<Admin | undefined> {
      sweep();
      const info = token ? await opts.tokens.verify(token.trim()) : undefined;
      if (!info || info.revoked || !info.groups.includes(opts.adminGroup)) return undefined;
      const old = getCookie(c, SESSION_COOKIE);
      if (old) sessions.delete(old);
      const id = randomBytes(32).toString('base64url');
      const t = now();
      const s: AdminSession = { identity: `token:${info.identity}`, tokenId: info.id, csrf: randomBytes(24).toString('base64url'), created: t, lastSeen: t };
      sessions.set(id, s);
      setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: opts.basePath, secure: opts.secureCookies || secure(c), maxAge: Math.floor(opts.maxAgeMs / 1000) });
      return s;
    },

    /** The admin behind this request's cookie, or undefined (unknown, expired, revoked, no longer admin). */
    async current(c: Context): Promise<Admin | undefined> {
      const id = getCookie(c, SESSION_COOKIE);
      if (!id) return undefined;
      const s = sessions.get(id);
      if (!s) return undefined;
      const t = now();
      if (t - s.lastSeen > opts.idleMs || t - s.created > opts.maxAgeMs) {
        sessions.delete(id);
        return undefined;
      }
      const info = (await opts.tokens.list()).find((i) => i.id === s.tokenId);
      if (!info || info.revoked || !info.groups.includes(opts.adminGroup)) {
        sessions.delete(id);
        return undefined;
      }
      s.lastSeen = t;
      return s;
    },

    signOut(c: Context): void {
      const id = getCookie(c, SESSION_COOKIE);
      if (id) sessions.delete(id);
      deleteCookie(c, SESSION_COOKIE, { path: opts.basePath });
    },

    /** Double-submit value for the login form, which has no session yet. */
    loginCsrf(c: Context): string {
      const existing = getCookie(c, LOGIN_COOKIE);
      if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return existing;
      const v = randomBytes(24).toString('base64url');
      setCookie(c, LOGIN_COOKIE, v, { httpOnly: true, sameSite: 'Strict', path: opts.basePath, secure: opts.secureCookies || secure(c) });
      return v;
    },

    loginCsrfMatches(c: Context, sent: unknown): boolean {
      const cookie = getCookie(c, LOGIN_COOKIE);
      return !!cookie && typeof sent === 'string' && sent.length > 0 && sameSecret(cookie, sent);
    },

    get size() {
      return sessions.size;
    },
  };
}

export type AdminSessions = ReturnType<typeof adminSessions>;
