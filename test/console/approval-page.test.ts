import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { approvalPage } from '../../gateway/console/approval-page.js';
import { ApprovalQueue, canonicalArgsDigest, type PendingApproval } from '../../gateway/review/index.js';

let stateDir: string;
let queue: ApprovalQueue;
let server: ServerType;
let base: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'tollgate-page-'));
  queue = new ApprovalQueue({ stateDir });
  const app = new Hono().route('/console', approvalPage({ queue }));
  await new Promise<void>((r) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => r());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(stateDir, { recursive: true, force: true });
});

let item: PendingApproval & { token: string };
beforeEach(async () => {
  const args = { path: '/etc/<script>alert(1)</script>', password: 'p4ssw0rd-secret' };
  item = await queue.enqueue(
    { sessionId: 's1', server: 'fs', tool: 'fs__write_file', arguments: args, argsDigest: canonicalArgsDigest(args), reviewer: { riskLevel: 'high', rationale: 'Writes under /etc.' }, policyReasons: ['writes need review'] },
    { timeoutMs: 60_000 },
  );
});

async function open(token = item.token) {
  const res = await fetch(`${base}/console/approve/${token}`);
  const html = await res.text();
  const cookie = res.headers.get('set-cookie')?.split(';')[0] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { res, html, cookie, csrf };
}

const post = (fields: Record<string, string>, headers: Record<string, string>, token = item.token) =>
  fetch(`${base}/console/approve/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString(), redirect: 'manual' });

describe('approval page', () => {
  it('shows the one pending call, escaped, without secrets, with safe headers', async () => {
    const { res, html, cookie, csrf } = await open();
    expect(res.status).toBe(200);
    expect(html).toContain('fs__write_file');
    expect(html).toContain('Writes under /etc.');
    expect(html).toContain('Approve once');
    expect(html).toContain('Approve for this session');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('p4ssw0rd-secret');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expect(res.headers.get('set-cookie')).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/^tollgate_csrf=/);
    expect(csrf.length).toBeGreaterThan(20);
  });

  it('an unknown token shows nothing', async () => {
    const { res, html } = await open('x'.repeat(43));
    expect(res.status).toBe(404);
    expect(html).not.toContain('fs__write_file');
  });

  it('approve for session with a valid form decides the queued call', async () => {
    const { cookie, csrf } = await open();
    const res = await post({ csrf, decision: 'approve_session' }, { cookie, origin: base });
    expect(res.status).toBe(200);
    expect(await queue.decisionOf(item.id)).toMatchObject({ decision: 'approve_session', channel: 'url' });
    const again = await post({ csrf, decision: 'deny' }, { cookie, origin: base });
    expect(again.status).toBe(404);
  });

  it('deny carries the reason', async () => {
    const { cookie, csrf } = await open();
    expect((await post({ csrf, decision: 'deny', reason: 'wrong file' }, { cookie, origin: base })).status).toBe(200);
    expect(await queue.decisionOf(item.id)).toMatchObject({ decision: 'deny', reason: 'wrong file' });
  });

  it('refuses cross-site posts, missing or wrong CSRF tokens, and unknown decisions', async () => {
    const { cookie, csrf } = await open();
    expect((await post({ csrf, decision: 'approve_once' }, { cookie, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ csrf, decision: 'approve_once' }, { origin: base })).status).toBe(403);
    expect((await post({ csrf: 'wrong'.repeat(8), decision: 'approve_once' }, { cookie, origin: base })).status).toBe(403);
    expect((await post({ csrf, decision: 'approve_forever' }, { cookie, origin: base })).status).toBe(400);
    expect(await queue.decisionOf(item.id)).toBeUndefined();
  });
});
