// SECURITY: only an authenticated person approves. The approval link alone (which an agent may hold — it is the
// URL elicitation's payload) decides nothing; and an identity signed in to the console cannot approve its own call.
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleApp } from '../../gateway/console/index.js';
import { ApprovalQueue } from '../../gateway/review/index.js';
import { createTokenStore } from '../../gateway/server/auth/index.js';
import { PinStore } from '../../gateway/upstreams/index.js';

let dataDir: string;
let server: ServerType;
let base: string;
let queue: ApprovalQueue;
let agentToken: string;
let otherToken: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tollgate-self-'));
  const stateDir = join(dataDir, 'state');
  queue = new ApprovalQueue({ stateDir, pollMs: 100 });
  const tokens = createTokenStore({ stateDir });
  // The agent's own HTTP token happens to be in the console group: it can sign in, but must not approve itself.
  agentToken = (await tokens.create('agent-bot', { groups: ['admin'] })).token;
  otherToken = (await tokens.create('bob', { groups: ['admin'] })).token;
  const app = new Hono().route('/console', consoleApp({ queue, dataDir, pins: new PinStore(stateDir), tokens, servers: () => [], selfApproval: (id) => id?.startsWith('local:') === true }));
  await new Promise<void>((r) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => r());
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dataDir, { recursive: true, force: true });
});

const cookiesOf = (res: Response) => res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');

async function signIn(token: string): Promise<string> {
  const page = await fetch(`${base}/console/login`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${base}/console/login`, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookiesOf(page), origin: base },
    body: new URLSearchParams({ token, csrf }).toString(),
  });
  expect(res.status, await res.text()).toBeLessThan(400);
  return [cookiesOf(page), cookiesOf(res)].filter(Boolean).join('; ');
}

async function approveViaPage(link: string, session: string | undefined): Promise<Response> {
  const page = await fetch(link, { headers: session ? { cookie: session } : {} });
  const html = await page.text();
  if (page.status !== 200) return new Response(html, { status: page.status });
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const cookie = [session, cookiesOf(page)].filter(Boolean).join('; ');
  return fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base }, body: new URLSearchParams({ csrf, decision: 'approve_once' }).toString() });
}

let n = 0;
const enqueue = (identity: string) =>
  queue.enqueue({ sessionId: `s-${identity}-${++n}`, identity, server: 'sh', tool: 'sh__exec', arguments: { command: 'rm -rf ~' }, argsDigest: 'sha256:' + '1'.repeat(64), policyReasons: ['needs a person'] }, { timeoutMs: 60_000 });

describe('the approval page', () => {
  it('the link alone decides nothing: no signed-in person, no approval', async () => {
    const item = await enqueue('token:agent-bot');
    const res = await approveViaPage(`${base}/console/approve/${item.token}`, undefined);
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('Sign in first');
    expect(await queue.decisionOf(item.id)).toBeUndefined();
    expect((await queue.list()).map((i) => i.id)).toContain(item.id);
  });

  it('an agent signed in with its own identity cannot approve its own call', async () => {
    const item = await enqueue('token:agent-bot');
    const res = await approveViaPage(`${base}/console/approve/${item.token}`, await signIn(agentToken));
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('cannot approve its own call');
    expect((await queue.list()).map((i) => i.id)).toContain(item.id);
  });

  it('another signed-in person can, and is recorded as the approver', async () => {
    const item = await enqueue('token:agent-bot');
    const waiting = queue.wait(item.id, { signal: new AbortController().signal, timeoutMs: 10_000 });
    const res = await approveViaPage(`${base}/console/approve/${item.token}`, await signIn(otherToken));
    expect(res.status, await res.text()).toBe(200);
    expect(await waiting).toMatchObject({ decision: 'approve_once', approver: 'token:bob' });
  });
});
