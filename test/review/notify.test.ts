// Telling a person: a webhook (Tollgate JSON or Slack-compatible) to a real HTTP server, a desktop notification through
// a notify-send on PATH; failures are counted and logged, never thrown; arguments travel only redacted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApprovalQueue, canonicalArgsDigest, createNotifier, type NotifyConfig, type PendingApproval } from '../../gateway/review/index.js';

let stateDir: string;
let hook: Server;
let hookUrl: string;
let received: Array<{ body: Record<string, unknown>; headers: Record<string, unknown> }>;
let status = 200;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'tollgate-notify-'));
  received = [];
  status = 200;
  hook = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      received.push({ body: JSON.parse(raw) as Record<string, unknown>, headers: req.headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => hook.listen(0, '127.0.0.1', ok));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
});
afterEach(async () => {
  await new Promise((ok) => hook.close(ok));
  await rm(stateDir, { recursive: true, force: true });
});

const SECRET = 'sk-live-abcdef1234567890abcdef';
async function item(): Promise<PendingApproval> {
  const args = { path: '/etc/hosts', apiKey: SECRET, note: `token=${SECRET}` };
  return new ApprovalQueue({ stateDir }).enqueue({ sessionId: 's', identity: 'local:alice', server: 'fs', tool: 'fs__write_file', arguments: args, argsDigest: canonicalArgsDigest(args), policyReasons: ['writes need a person'] }, { timeoutMs: 60_000, deferred: true });
}
const links = { consoleUrl: 'http://127.0.0.1:7777/console/approvals', command: 'tollgate approvals approve abc' };
const cfg = (c: Partial<NotifyConfig>): NotifyConfig => ({ desktop: false, arguments: 'redacted', ...c });

describe('approvals.notify', () => {
  it('webhook: a JSON POST with the pending call, its redacted summary and the approval link', async () => {
    const logs: string[] = [];
    const n = createNotifier(() => cfg({ webhook: { url: hookUrl, format: 'json', headers: { 'x-team': 'sec' }, timeoutSeconds: 5 } }), { log: (l) => logs.push(l) });
    const i = await item();
    await n.pending(i, links);
    expect(received).toHaveLength(1);
    const { body, headers } = received[0]!;
    expect(headers['x-team']).toBe('sec');
    expect(body).toMatchObject({ event: 'tollgate.approval_pending', approval: { id: i.id, tool: 'fs__write_file', server: 'fs', identity: 'local:alice', deferred: true }, approveUrl: links.consoleUrl, command: links.command });
    expect(body.summary).toContain('path: /etc/hosts');
    expect(JSON.stringify(body)).not.toContain(SECRET);
    expect(n.counters()).toMatchObject({ sent: 1, failed: 0 });
    expect(logs).toEqual([]);
  });

  it('webhook: a Slack-compatible body; arguments "none" sends no argument text at all', async () => {
    const n = createNotifier(() => cfg({ webhook: { url: hookUrl, format: 'slack', headers: {}, timeoutSeconds: 5 }, arguments: 'none' }), { log: () => undefined });
    await n.pending(await item(), links);
    const body = received[0]!.body as { text: string };
    expect(Object.keys(body)).toEqual(['text']);
    expect(body.text).toContain('fs__write_file');
    expect(body.text).toContain(links.consoleUrl);
    expect(body.text).not.toContain('/etc/hosts');
  });

  it('failures are counted and logged, never thrown — and the log never quotes the webhook URL', async () => {
    const logs: string[] = [];
    status = 500;
    const secretUrl = `${hookUrl}/T000/B000/XXXXsecretpath`;
    const n = createNotifier(() => cfg({ webhook: { url: secretUrl, format: 'json', headers: {}, timeoutSeconds: 5 } }), { log: (l) => logs.push(l) });
    await expect(n.pending(await item(), links)).resolves.toBeUndefined();
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const refused = createNotifier(() => cfg({ webhook: { url: `http://127.0.0.1:${port}/hook`, format: 'json', headers: {}, timeoutSeconds: 5 } }), { log: (l) => logs.push(l) });
    await refused.pending(await item(), links);
    expect(n.counters()).toMatchObject({ sent: 0, failed: 1, lastError: 'webhook: HTTP 500' });
    expect(refused.counters()).toMatchObject({ failed: 1 });
    expect(refused.counters().lastError).toMatch(/webhook: ECONNREFUSED/);
    expect(logs.join('\n')).toMatch(/notify: webhook failed \(HTTP 500\)/);
    expect(logs.join('\n')).not.toContain('secretpath');
  });

  it('desktop: runs notify-send from PATH; counted as failed when it is not installed', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'tollgate-bin-'));
    const out = join(bin, 'argv.txt');
    await writeFile(join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${out}'\n`);
    await chmod(join(bin, 'notify-send'), 0o755);
    const n = createNotifier(() => cfg({ desktop: true }), { log: () => undefined, env: { PATH: bin } });
    await n.pending(await item(), links);
    expect(await readFile(out, 'utf8')).toContain('Tollgate: approve fs__write_file?');
    expect(n.counters()).toMatchObject({ sent: 1, failed: 0 });
    const none = createNotifier(() => cfg({ desktop: true }), { log: () => undefined, env: { PATH: join(bin, 'nowhere') } });
    await none.pending(await item(), links);
    expect(none.counters()).toMatchObject({ sent: 0, failed: 1, lastError: 'desktop notification: notify-send is not installed' });
    await rm(bin, { recursive: true, force: true });
  });

  it('failures are shown where a person looks: `approvals list` (text and --json) says the pending call was not notified', async () => {
    const { approvalsCommand } = await import('../../gateway/review/approvals-cli.js');
    status = 503;
    const queue = new ApprovalQueue({ stateDir });
    const n = createNotifier(() => cfg({ webhook: { url: hookUrl, format: 'json', headers: {}, timeoutSeconds: 5 } }), { log: () => undefined, onOutcome: (id, o) => queue.noteNotified(id, o) });
    const failed = await item();
    await n.pending(failed, links);
    status = 200;
    const told = await item();
    await n.pending(told, links);
    const run = async (...argv: string[]) => {
      let out = '';
      const code = await approvalsCommand(argv, { stdin: process.stdin, stdout: { write: (c: string) => (out += c) }, stderr: { write: () => true }, env: {}, cwd: stateDir }, { stateDir });
      return { code, out };
    };
    const text = await run('list');
    expect(text.code).toBe(0);
    const blocks = text.out.split(/\n(?=\S)/);
    expect(blocks.find((b) => b.startsWith(failed.id))).toMatch(/NOT NOTIFIED: 1 notification\(s\) failed \(webhook: HTTP 503\)/);
    expect(blocks.find((b) => b.startsWith(told.id))).toMatch(/notified \(1\)/);
    const json = JSON.parse((await run('list', '--json')).out) as Array<{ id: string; notified?: unknown }>;
    expect(json.find((i) => i.id === failed.id)?.notified).toEqual({ sent: 0, failed: 1, lastError: 'webhook: HTTP 503' });
    await queue.remove(failed.id);
    expect(await queue.notifiedOf(failed.id)).toBeUndefined();
  });
});
