// Tells a person that a call waits for them: a webhook (JSON or Slack-compatible) and a desktop notification.
// Never blocks the call; failures are counted and logged. Arguments travel only as their redacted summary.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { summarizeArguments } from './messages.js';
import type { PendingApproval } from './queue.js';

export interface NotifyConfig {
  webhook?: { url: string; format: 'json' | 'slack'; headers: Record<string, string>; timeoutSeconds: number };
  desktop: boolean;
  arguments: string;
}

export interface NotifyCounters {
  sent: number;
  failed: number;
  lastError?: string;
}

export interface Notifier {
  /** Fire and forget: resolves when every channel has answered or failed, and never rejects. */
  pending(item: PendingApproval, links: { consoleUrl?: string; command: string }): Promise<void>;
  counters(): NotifyCounters;
}

/** The body a webhook receives. Pure; argument text only as the redacted summary (or not at all). */
export function notificationBody(item: PendingApproval, links: { consoleUrl?: string; command: string }, opts: { format: 'json' | 'slack'; arguments: string }) {
  const summary = opts.arguments === 'none' ? undefined : summarizeArguments(item.arguments);
  const title = `Tollgate: ${item.tool} on "${item.server}" waits for approval ${item.id}${item.identity ? ` (${item.identity})` : ''}`;
  if (opts.format === 'slack') {
    const lines = [title, ...(summary ? ['```', summary, '```'] : []), links.consoleUrl ? `Approve in the console: ${links.consoleUrl}` : '', `Or run: \`${links.command}\``].filter(Boolean);
    return { text: lines.join('\n') };
  }
  return {
    event: 'tollgate.approval_pending',
    approval: { id: item.id, createdAt: item.createdAt, expiresAt: item.expiresAt, identity: item.identity, sessionId: item.sessionId, server: item.server, tool: item.tool, argsDigest: item.argsDigest, deferred: item.deferred === true, policyReasons: item.policyReasons, reviewer: item.reviewer },
    ...(summary ? { summary } : {}),
    ...(links.consoleUrl ? { approveUrl: links.consoleUrl } : {}),
    command: links.command,
  };
}

/** notify-send on PATH, or undefined. */
function findNotifySend(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'notify-send');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function createNotifier(
  config: () => NotifyConfig,
  opts: { log: (line: string) => void; env?: NodeJS.ProcessEnv; /** How this item's notifications went (shown by `approvals list`). */ onOutcome?: (id: string, outcome: NotifyCounters) => void | Promise<void> },
): Notifier {
  const c: NotifyCounters = { sent: 0, failed: 0 };
  const env = opts.env ?? process.env;
  let notifySend: string | undefined | null = null;
  return {
    counters: () => ({ ...c }),
    async pending(item, links) {
      const cfg = config();
      const jobs: Promise<void>[] = [];
      const mine: NotifyCounters = { sent: 0, failed: 0 };
      const fail = (what: string, why: string) => {
        c.failed++;
        mine.failed++;
        c.lastError = mine.lastError = `${what}: ${why}`;
        opts.log(`notify: ${what} failed (${why}); ${c.failed} notification(s) failed so far — the approval still waits in \`tollgate approvals list\``);
      };
      const sent = () => (c.sent++, mine.sent++);
      if (cfg.webhook) {
        const w = cfg.webhook;
        jobs.push(
          fetch(w.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...w.headers },
            body: JSON.stringify(notificationBody(item, links, { format: w.format, arguments: cfg.arguments })),
            signal: AbortSignal.timeout(w.timeoutSeconds * 1000),
            redirect: 'error',
          }).then(
            async (res) => {
              await res.body?.cancel().catch(() => undefined);
              if (res.ok) sent();
              else fail('webhook', `HTTP ${res.status}`);
            },
            // the URL may carry a secret (Slack's do): only the error's kind is logged
            (e: Error) => fail('webhook', e.name === 'TimeoutError' ? 'timed out' : ((e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.name)),
          ),
        );
      }
      if (cfg.desktop) {
        if (notifySend === null) notifySend = findNotifySend(env);
        if (!notifySend) fail('desktop notification', 'notify-send is not installed');
        else {
          const bin = notifySend;
          jobs.push(
            new Promise<void>((done) => {
              const p = spawn(bin, ['--app-name=Tollgate', `Tollgate: approve ${item.tool}?`, `${links.command}${links.consoleUrl ? `\n${links.consoleUrl}` : ''}`], { stdio: 'ignore', env });
              p.once('error', (e) => (fail('desktop notification', (e as NodeJS.ErrnoException).code ?? e.message), done()));
              p.once('exit', (code) => (code === 0 ? sent() : fail('desktop notification', `notify-send exited ${code}`), done()));
            }),
          );
        }
      }
      await Promise.all(jobs);
      if (cfg.webhook || cfg.desktop) await Promise.resolve(opts.onOutcome?.(item.id, mine)).catch(() => undefined);
    },
  };
}
