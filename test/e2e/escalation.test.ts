// Approval modes and the approvals queue through the real gateway: never-ask, human, and clients without
// elicitation (the MCP Inspector CLI and a bare SDK client) decided by `tollgate approvals` in another process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, httpAgent, httpGateway, runCli, textOf, until, type HttpGateway } from '../helpers/gateway.js';
import { startReviewerServer, type ReviewerServer } from '../fixtures/reviewer-server.js';
import { DELETE, ECHO, accept, callRecords, formAgent, journal, reviewConfigDir, step, type FormAgent } from './review-kit/kit.js';

const HIGH = { verdict: { riskLevel: 'high', userAuthorization: 'unknown', outcome: 'deny', rationale: 'Deletes a file outside the workspace.' } };
const INSPECTOR = join(ROOT, 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build');

describe('approval modes', () => {
  let reviewer: ReviewerServer;
  let neverAsk: { dir: string; agent: FormAgent };
  let human: { dir: string; agent: FormAgent };

  beforeAll(async () => {
    reviewer = await startReviewerServer(); // answers low/allow: consulted, it would auto-approve
    const start = async (mode: 'never-ask' | 'human') => {
      const dir = reviewConfigDir({ mode, reviewerURL: reviewer.baseURL });
      return { dir, agent: await formAgent(dir) };
    };
    [neverAsk, human] = await Promise.all([start('never-ask'), start('human')]);
  });
  afterAll(async () => {
    await Promise.all([neverAsk?.agent.close(), human?.agent.close()]);
    await reviewer?.close();
  });

  it('never-ask → calls that need review are denied without asking anyone; rule-allowed calls run', async () => {
    const r = await neverAsk.agent.client.callTool({ name: DELETE, arguments: { path: '/scratch/never.txt' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/approval mode is never-ask/);
    expect(textOf(r)).toMatch(/workarounds are not allowed/);
    expect(neverAsk.agent.asked).toEqual([]);
    expect(textOf(await neverAsk.agent.client.callTool({ name: ECHO, arguments: { text: 'still fine' } }))).toBe('still fine');
  });

  it('human → a person is asked and the reviewer is never consulted', async () => {
    human.agent.answer = accept('approve_once');
    const r = await human.agent.client.callTool({ name: DELETE, arguments: { path: '/scratch/human.txt' } });
    expect(textOf(r)).toBe('deleted /scratch/human.txt');
    expect(human.agent.asked).toHaveLength(1);
    expect(human.agent.asked[0]).toMatch(/Automated review: not run/);
    const [call] = callRecords(await journal(human.dir), DELETE, '/scratch/human.txt');
    expect(step(call!, 'tollgate.policy_decision')).toMatchObject({ decision: 'review', mode: 'human' });
    expect(step(call!, 'tollgate.review')).toBeUndefined();
    expect(step(call!, 'tollgate.tool_decision')).toMatchObject({ decision: 'approved', source: 'user' });
  });

  it('neither mode sent anything to the reviewer', () => {
    expect(reviewer.requests).toEqual([]);
  });
});

describe('a client that declares no elicitation → the approvals queue', () => {
  let reviewer: ReviewerServer;
  let dir: string;
  let gw: HttpGateway;
  let bare: Client;

  beforeAll(async () => {
    reviewer = await startReviewerServer({ fallback: HIGH });
    dir = reviewConfigDir({ mode: 'auto-review', reviewerURL: reviewer.baseURL, approvalTimeoutSeconds: 60, maxConsecutiveDenials: 1000 });
    gw = await httpGateway(dir);
    bare = await httpAgent(gw.url, {}, gw.auth); // no capabilities at all
  });
  afterAll(async () => {
    await bare?.close().catch(() => undefined);
    await gw?.stop();
    await reviewer?.close();
  });

  const queueDir = () => join(dir, '.tollgate', 'state', 'approvals');
  const pendingFiles = () => (existsSync(queueDir()) ? readdirSync(queueDir()).filter((n) => /^[a-z0-9]+\.json$/.test(n)) : []);
  type Item = { id: string; tool: string; arguments: { path?: string }; reviewer?: { riskLevel?: string; rationale?: string } };
  /** The queued item for this path, read from the queue folder (the first test reads it through `approvals list`). */
  const queued = (path: string) =>
    until(() => pendingFiles().map((n) => JSON.parse(readFileSync(join(queueDir(), n), 'utf8')) as Item).find((i) => i.arguments.path === path), `a pending approval for ${path}`);
  /** The MCP Inspector CLI (declares no client capabilities) calling a tool through the gateway with a bearer token. */
  const inspectorCall = (path: string) => {
    const p = spawn(process.execPath, [join(INSPECTOR, 'cli.js'), '--cli', gw.url, '--transport', 'http', '--header', `Authorization: Bearer ${gw.token}`, '--method', 'tools/call', '--tool-name', DELETE, '--tool-arg', `path=${path}`], {
      cwd: INSPECTOR, // it reads ../package.json relative to the working directory
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    return new Promise<{ code: number | null; result: { content: Array<{ text: string }>; isError?: boolean } | undefined; stderr: string }>((done) =>
      p.on('close', (code) => {
        let result;
        try {
          result = JSON.parse(stdout.slice(stdout.indexOf('{')));
        } catch {
          result = undefined;
        }
        done({ code, result, stderr });
      }),
    );
  };

  it('the Inspector CLI waits in the queue; `tollgate approvals list` shows it and `approve ID` lets it run', async () => {
    const call = inspectorCall('/scratch/inspector-approve.txt');
    await queued('/scratch/inspector-approve.txt');
    const listed = await runCli(['approvals', 'list', '--json', '--config', dir]);
    expect(listed.code).toBe(0);
    const item = (JSON.parse(listed.stdout) as Item[]).find((i) => i.arguments.path === '/scratch/inspector-approve.txt')!;
    expect(item).toMatchObject({ tool: DELETE, reviewer: { riskLevel: 'high', rationale: 'Deletes a file outside the workspace.' } });
    const approve = await runCli(['approvals', 'approve', item.id, '--config', dir], { env: { USER: 'dana' } });
    expect(approve).toMatchObject({ code: 0 });
    const done = await call;
    expect(done.code, done.stderr).toBe(0);
    expect(done.result?.isError).toBeFalsy();
    expect(done.result?.content[0]?.text).toBe('deleted /scratch/inspector-approve.txt');
    expect(pendingFiles()).toEqual([]);
  });

  it('`approvals deny ID --reason X` → the agent sees who denied it and the reason', async () => {
    const call = inspectorCall('/scratch/inspector-deny.txt');
    const item = await queued('/scratch/inspector-deny.txt');
    expect(await runCli(['approvals', 'deny', item.id, '--reason', 'not during the freeze', '--config', dir], { env: { USER: 'dana' } })).toMatchObject({ code: 0 });
    const done = await call;
    expect(done.result?.isError).toBe(true);
    const text = done.result!.content[0]!.text;
    // the approver is the OS account that ran the command, whatever USER says (an agent can set that)
    expect(text).toContain(`a person (cli:${userInfo().username}) reviewing the call denied it`);
    expect(text).not.toContain('cli:dana');
    expect(text).toContain('The person wrote: "not during the freeze"');
    expect(text).not.toMatch(/workarounds are not allowed/);
  });

  it('while waiting, progress notifications reach an agent that gave a progress token', async () => {
    const seen: Array<{ progress: number; message?: string }> = [];
    const call = bare.callTool({ name: DELETE, arguments: { path: '/scratch/progress.txt' } }, undefined, { onprogress: (p) => seen.push(p), timeout: 30_000 });
    const item = await queued('/scratch/progress.txt');
    await until(() => seen.length > 0, 'a progress notification while the call waits', 12_000);
    expect(seen[0]!.message).toMatch(/waiting for a person to approve fixture__delete_file/);
    await runCli(['approvals', 'approve', item.id, '--config', dir]);
    expect(textOf(await call)).toBe('deleted /scratch/progress.txt');
  });

  it('cancelling the waiting call (AbortSignal) → the call is cancelled, denied in the journal, and the queue item is gone', async () => {
    const ac = new AbortController();
    const call = bare.callTool({ name: DELETE, arguments: { path: '/scratch/cancel.txt' } }, undefined, { signal: ac.signal });
    const item = await queued('/scratch/cancel.txt');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    await until(() => pendingFiles().length === 0, 'the queue item to be removed');
    const late = await runCli(['approvals', 'approve', item.id, '--config', dir]);
    expect(late.code).toBe(1); // nothing left to approve
    expect(late.stderr).toMatch(/no pending approval/);
    const [records] = callRecords(await journal(dir), DELETE, '/scratch/cancel.txt');
    // the agent's client gave up, on the queue: not a person's cancel, not channel "none"
    expect(step(records!, 'tollgate.human_decision')).toMatchObject({ channel: 'queue', decision: 'client_cancelled', answeredBy: 'client' });
    expect(step(records!, 'tollgate.tool_decision')).toMatchObject({ decision: 'denied', source: 'user' });
    expect(step(records!, 'tollgate.tool_result')).toBeUndefined();
  });

  // Failed against 8c09ebf..b515a5c (the SDK transport forgets a dropped stream's request without aborting it); passes since f331dd0.
  it('an agent that disconnects while its call waits withdraws the question: a later approval cannot run the call', async () => {
    const leaving = await httpAgent(gw.url, {}, gw.auth);
    const call = leaving.callTool({ name: DELETE, arguments: { path: '/scratch/gone.txt' } }).catch((e: Error) => e);
    const item = await queued('/scratch/gone.txt');
    await leaving.close(); // aborts the in-flight HTTP request; no notifications/cancelled is sent
    await call;
    // Fail closed: nobody is waiting for this call any more, so it must leave the queue (as a cancel does).
    // Bounded wait: if it is still pending after 5 s, the approval below would run a destructive call for nobody.
    await until(() => pendingFiles().length === 0, 'the queue item of the departed agent to be withdrawn', 5_000).catch(() => undefined);
    const approve = await runCli(['approvals', 'approve', item.id, '--config', dir]);
    await new Promise((r) => setTimeout(r, 300)); // let a (wrongly) released call reach the journal
    const [records] = callRecords(await journal(dir), DELETE, '/scratch/gone.txt');
    expect(step(records!, 'tollgate.tool_result'), 'the call ran after its agent had gone').toBeUndefined();
    expect(approve.code).toBe(1);
    expect(step(records!, 'tollgate.tool_decision')).toMatchObject({ decision: 'denied' });
  });

  it('an HTTP agent that declares form elicitation is asked on the stream of its call (relatedRequestId)', async () => {
    const asker = await httpAgent(gw.url, { capabilities: { elicitation: { form: {} } } }, gw.auth);
    try {
      const asked: string[] = [];
      asker.setRequestHandler(ElicitRequestSchema, async (req) => {
        asked.push(req.params.message);
        return { action: 'accept', content: { decision: 'approve_once' } };
      });
      const r = await asker.callTool({ name: DELETE, arguments: { path: '/scratch/http-form.txt' } });
      expect(textOf(r)).toBe('deleted /scratch/http-form.txt');
      expect(asked).toHaveLength(1);
      expect(asked[0]).toContain('high risk — Deletes a file outside the workspace.');
      expect(pendingFiles()).toEqual([]);
    } finally {
      await asker.close();
    }
  });

  it('a URL-only client is sent to the gateway\'s own approval page; deciding there lets the call run', async () => {
    const asker = await httpAgent(gw.url, { capabilities: { elicitation: { url: {} } } }, gw.auth);
    // The link alone decides nothing: the person who opens it is signed in to the console (another identity than the agent).
    const person = await runCli(['tokens', 'create', 'url-approver', '--group', 'admin', '--config', dir]);
    expect(person.code, person.stderr).toBe(0);
    const origin = new URL(gw.url).origin;
    const login = await fetch(`${origin}/console/login`);
    const loginCookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const loginCsrf = /name="csrf" value="([^"]+)"/.exec(await login.text())![1]!;
    const signedIn = await fetch(`${origin}/console/login`, { method: 'POST', redirect: 'manual', headers: { cookie: loginCookie, origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: person.stdout.trim(), csrf: loginCsrf }) });
    expect(signedIn.status).toBeLessThan(400);
    const session = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    try {
      const urls: string[] = [];
      asker.setRequestHandler(ElicitRequestSchema, async (req) => {
        const url = (req.params as { url?: string }).url!;
        urls.push(url);
        // the person opens the page and presses "Approve once"
        const page = await fetch(url, { headers: { cookie: session } });
        const html = await page.text();
        const cookie = `${session}; ${page.headers.get('set-cookie')!.split(';')[0]!}`;
        const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
        const post = await fetch(url, { method: 'POST', redirect: 'manual', headers: { cookie, origin: new URL(url).origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, decision: 'approve_once' }) });
        expect(post.status).toBeLessThan(400);
        return { action: 'accept' };
      });
      const r = await asker.callTool({ name: DELETE, arguments: { path: '/scratch/url.txt' } });
      expect(textOf(r)).toBe('deleted /scratch/url.txt');
      expect(urls).toHaveLength(1);
      expect(urls[0]!.startsWith(`${new URL(gw.url).origin}/console/approve/`)).toBe(true);
    } finally {
      await asker.close();
    }
  });
});
