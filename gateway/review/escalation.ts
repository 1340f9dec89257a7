// Escalation to a human, behind one interface: form elicitation, URL elicitation to our page, or the queue.
import type { ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { summarizeArguments } from './messages.js';
import type { ApprovalQueue, QueueDecision } from './queue.js';

export interface EscalationRequest {
  id: string;
  sessionId: string;
  identity?: string;
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  argsDigest: string;
  reviewer?: { riskLevel: string; rationale: string } | { failure: string };
  policyReasons: string[];
}

export type HumanDecisionKind = 'approve_once' | 'approve_session' | 'approve_tool_session' | 'deny' | 'timeout' | 'cancel' | 'unavailable';

export interface HumanDecision {
  decision: HumanDecisionKind;
  channel: 'form' | 'url' | 'queue' | 'none';
  approver?: string;
  reason?: string;
  waitMs: number;
}

export interface EscalateOptions {
  signal: AbortSignal;
  /** The human's time limit (minutes, not the SDK's 60 s default). */
  timeoutMs: number;
  /** Called periodically while waiting (the integrator sends progress notifications). */
  onWaiting?: (elapsedMs: number) => void;
}

/** One question to a human about one call. Implementations always resolve; anything but an approval denies. */
export interface Escalation {
  decide(req: EscalationRequest, opts: EscalateOptions): Promise<HumanDecision>;
}

export type ElicitForm = (params: ElicitRequestFormParams, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<ElicitResult>;
export type ElicitUrl = (params: ElicitRequestURLParams, opts: { timeoutMs: number; signal: AbortSignal }) => Promise<ElicitResult>;

export const APPROVAL_CHOICES = [
  { const: 'approve_once', title: 'Approve once' },
  { const: 'approve_session', title: 'Approve for this session (same arguments)' },
  { const: 'approve_tool_session', title: 'Approve this tool for the session (any arguments)' },
  { const: 'deny', title: 'Deny' },
] as const;
const APPROVE_KINDS = new Set<string>(APPROVAL_CHOICES.map((c) => c.const));

/** The question a person reads: server, tool, readable arguments, the reviewer's view, policy reasons. Pure. */
export function approvalMessage(req: EscalationRequest): string {
  const reviewer = !req.reviewer
    ? 'Automated review: not run.'
    : 'failure' in req.reviewer
      ? `Automated review failed (${req.reviewer.failure}), so a person must decide.`
      : `Automated reviewer: ${req.reviewer.riskLevel} risk — ${req.reviewer.rationale}`;
  const reasons = req.policyReasons.length ? `\nWhy approval is needed: ${req.policyReasons.join('; ')}` : '';
  return `An agent wants to call ${req.tool} on server "${req.server}".\nArguments:\n${summarizeArguments(req.arguments)}\n${reviewer}${reasons}`;
}

export const APPROVAL_FORM_SCHEMA: ElicitRequestFormParams['requestedSchema'] = {
  type: 'object',
  properties: {
    decision: { type: 'string', title: 'Decision', oneOf: APPROVAL_CHOICES.map((c) => ({ const: c.const, title: c.title })) },
    reason: { type: 'string', title: 'Reason (optional)', description: 'Shown to the agent when you deny.', maxLength: 500 },
  },
  required: ['decision'],
};

export interface WaitingOptions {
  /** How often onWaiting fires (default 5 s). */
  waitingIntervalMs?: number;
}

/** Form-mode elicitation in the agent's client. decline → deny, cancel → cancel, error → unavailable. */
export function formElicitation(elicit: ElicitForm, wo: WaitingOptions = {}): Escalation {
  return {
    async decide(req, opts) {
      const started = performance.now();
      const waitMs = () => Math.round(performance.now() - started);
      const outcome = await withLimits(opts, wo, (signal) =>
        elicit({ mode: 'form', message: approvalMessage(req), requestedSchema: APPROVAL_FORM_SCHEMA }, { timeoutMs: opts.timeoutMs, signal }),
      );
      if (outcome.kind !== 'done') return { decision: outcome.kind, channel: 'form', waitMs: waitMs(), ...(outcome.detail ? { reason: outcome.detail } : {}) };
      return fromElicitResult(outcome.value, req, 'form', waitMs());
    },
  };
}

/**
 * URL-mode elicitation: the client opens Tollgate's approval page for this one call (an
 * unguessable token in the URL); the decision arrives through the queue.
 */
export function urlElicitation(elicitUrl: ElicitUrl, queue: ApprovalQueue, approvalPageBaseUrl: string, wo: WaitingOptions & { onComplete?: (elicitationId: string) => void } = {}): Escalation {
  const base = approvalPageBaseUrl.replace(/\/+$/, '');
  return {
    async decide(req, opts) {
      const started = performance.now();
      const item = await queue.enqueue(req, { timeoutMs: opts.timeoutMs });
      const local = new AbortController();
      const signal = AbortSignal.any([opts.signal, local.signal]);
      const waiting = queue.wait(item.id, { signal, timeoutMs: opts.timeoutMs, onWaiting: opts.onWaiting, waitingIntervalMs: wo.waitingIntervalMs });
      // The client answers as soon as the person consents to open the URL (or refuses); the decision itself comes from the page.
      const consent = elicitUrl(
        { mode: 'url', message: `Approve or deny ${req.tool} on "${req.server}" on Tollgate's approval page.`, elicitationId: item.id, url: `${base}/approve/${item.token}` },
        { timeoutMs: opts.timeoutMs, signal },
      ).then(
        async (r) => {
          if (r.action === 'accept') return;
          await queue.decide(item.id, { decision: r.action === 'decline' ? 'deny' : 'cancel', channel: 'gateway', reason: r.action === 'decline' ? 'the person declined to open the approval page' : undefined }).catch(() => {});
        },
        () => {}, // a client that cannot open it leaves the queue (console, CLI) as the way to decide
      );
      const d = await waiting;
      local.abort();
      await consent;
      wo.onComplete?.(item.id);
      return fromQueueDecision(d, 'url', Math.round(performance.now() - started));
    },
  };
}

/** The call waits in the approvals queue until `tollgate approvals` or the console decides, or it times out. */
export function queueEscalation(queue: ApprovalQueue, wo: WaitingOptions = {}): Escalation {
  return {
    async decide(req, opts) {
      const started = performance.now();
      const item = await queue.enqueue(req, { timeoutMs: opts.timeoutMs });
      const d = await queue.wait(item.id, { signal: opts.signal, timeoutMs: opts.timeoutMs, onWaiting: opts.onWaiting, waitingIntervalMs: wo.waitingIntervalMs });
      return fromQueueDecision(d, 'queue', Math.round(performance.now() - started));
    },
  };
}

/** No human can be reached (e.g. `never-ask` mode): always `unavailable`, which denies. */
export const noHuman: Escalation = {
  async decide() {
    return { decision: 'unavailable', channel: 'none', waitMs: 0 };
  },
};

export interface EscalationDeps {
  elicit?: ElicitForm;
  elicitUrl?: ElicitUrl;
  queue?: ApprovalQueue;
  /** e.g. `http://127.0.0.1:7777/console` — the approval page lives at `<base>/approve/<token>`. */
  approvalPageBaseUrl?: string;
  waitingIntervalMs?: number;
  onUrlElicitationComplete?: (elicitationId: string) => void;
}

/**
 * Picks the channel for one session from what its client declared: form elicitation, else URL
 * elicitation to our page, else the queue, else nobody. Create one per session: identical
 * concurrent questions in it are asked once.
 */
export function escalationFor(capabilities: { elicitationForm: boolean; elicitationUrl: boolean }, deps: EscalationDeps): Escalation {
  const wo = { waitingIntervalMs: deps.waitingIntervalMs };
  if (capabilities.elicitationForm && deps.elicit) return dedupe(formElicitation(deps.elicit, wo));
  if (capabilities.elicitationUrl && deps.elicitUrl && deps.queue && deps.approvalPageBaseUrl) {
    return dedupe(urlElicitation(deps.elicitUrl, deps.queue, deps.approvalPageBaseUrl, { ...wo, onComplete: deps.onUrlElicitationComplete }));
  }
  if (deps.queue) return dedupe(queueEscalation(deps.queue, wo));
  return noHuman;
}

/**
 * Identical concurrent escalations (same session, server, tool, argument digest) share one
 * question and its answer. The shared question is cancelled only when every waiter has gone.
 * An "approve once" stays single-use: it lets one waiter run, and the others are asked again.
 */
export function dedupe(inner: Escalation): Escalation {
  const inFlight = new Map<string, { promise: Promise<HumanDecision>; waiters: Set<EscalateOptions>; controller: AbortController; onceTaken: boolean }>();
  const self: Escalation = {
    decide(req, opts) {
      const key = JSON.stringify([req.sessionId, req.server, req.tool, req.argsDigest]);
      let entry = inFlight.get(key);
      if (!entry) {
        const controller = new AbortController();
        const waiters = new Set<EscalateOptions>();
        const onWaiting = (ms: number) => waiters.forEach((w) => w.onWaiting?.(ms));
        const promise = inner.decide(req, { signal: controller.signal, timeoutMs: opts.timeoutMs, onWaiting }).finally(() => inFlight.delete(key));
        entry = { promise, waiters, controller, onceTaken: false };
        inFlight.set(key, entry);
      }
      const e = entry;
      e.waiters.add(opts);
      const started = performance.now();
      return new Promise<HumanDecision>((resolve) => {
        const leave = () => {
          e.waiters.delete(opts);
          if (e.waiters.size === 0) e.controller.abort();
          resolve({ decision: 'cancel', channel: 'none', waitMs: Math.round(performance.now() - started) });
        };
        if (opts.signal.aborted) return leave();
        opts.signal.addEventListener('abort', leave, { once: true });
        e.promise.then((d) => {
          opts.signal.removeEventListener('abort', leave);
          e.waiters.delete(opts);
          if (d.decision === 'approve_once') {
            if (e.onceTaken) return resolve(self.decide(req, opts));
            e.onceTaken = true;
          }
          resolve(d);
        });
      });
    },
  };
  return self;
}

type Limited<T> = { kind: 'done'; value: T } | { kind: 'timeout' | 'cancel' | 'unavailable'; detail?: string };

/** Runs fn under our own timeout and the caller's signal, firing onWaiting meanwhile. */
async function withLimits<T>(opts: EscalateOptions, wo: WaitingOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<Limited<T>> {
  const started = performance.now();
  const local = new AbortController();
  const signal = AbortSignal.any([opts.signal, local.signal]);
  let timer: NodeJS.Timeout | undefined;
  let beat: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Limited<T>>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), opts.timeoutMs);
      if (opts.onWaiting) beat = setInterval(() => opts.onWaiting!(Math.round(performance.now() - started)), wo.waitingIntervalMs ?? 5000);
      onAbort = () => resolve({ kind: 'cancel' });
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      fn(signal).then(
        (value) => resolve({ kind: 'done', value }),
        (err: unknown) => resolve(isTimeoutError(err) ? { kind: 'timeout' } : opts.signal.aborted ? { kind: 'cancel' } : { kind: 'unavailable', detail: 'the client could not show the approval request' }),
      );
    });
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
    if (onAbort) opts.signal.removeEventListener('abort', onAbort);
    local.abort(); // withdraw the question if it is still open
  }
}

function isTimeoutError(err: unknown): boolean {
  // McpError code -32001 is the SDK's RequestTimeout
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === -32001;
}

function fromElicitResult(r: ElicitResult, req: EscalationRequest, channel: 'form', waitMs: number): HumanDecision {
  const approver = req.identity;
  const base = { channel, waitMs, ...(approver ? { approver } : {}) } as const;
  if (r.action === 'decline') return { ...base, decision: 'deny', reason: 'declined in the client' };
  if (r.action === 'cancel') return { ...base, decision: 'cancel' };
  const decision = r.content?.decision;
  const rawReason = r.content?.reason;
  const reason = typeof rawReason === 'string' && rawReason.trim() ? rawReason.trim().slice(0, 500) : undefined;
  // Fail closed: an accept without a recognised choice is a denial.
  if (typeof decision !== 'string' || !APPROVE_KINDS.has(decision)) return { ...base, decision: 'deny', reason: 'the answer did not contain a valid choice' };
  return { ...base, decision: decision as HumanDecisionKind, ...(reason ? { reason } : {}) };
}

function fromQueueDecision(d: QueueDecision, channel: 'url' | 'queue', waitMs: number): HumanDecision {
  return { decision: d.decision, channel, waitMs, ...(d.approver ? { approver: d.approver } : {}), ...(d.reason ? { reason: d.reason } : {}) };
}
