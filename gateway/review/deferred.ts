// Deferred approvals: a call no person can be asked about inline is parked in the approvals queue and returns at
// once; a person decides it later (console, CLI), and the agent's retry of the same call claims that decision once.
import type { ApprovalStore, EnqueueRequest, PendingApproval, QueueDecision } from './queue.js';

/** What binds a retry to an approval: who asks, and exactly which call. */
export interface DeferredKey {
  identity?: string;
  server: string;
  tool: string;
  argsDigest: string;
}

export type DeferredState =
  | { kind: 'none' }
  | { kind: 'pending'; item: PendingApproval }
  /** Decided and claimed by this caller: nobody else gets it. */
  | { kind: 'decided'; item: PendingApproval; decision: QueueDecision };

export interface DeferredApprovalsOptions {
  queue: ApprovalStore;
  /** How long an item waits for a person, and how long an approval waits for the retry (`approvals.deferredTtlSeconds`). */
  ttlMs: () => number;
  now?: () => number;
}

/** Deferred items of one queue, shared by every gateway process on it (the queue's items are the only state). */
export class DeferredApprovals {
  readonly #queue: ApprovalStore;
  readonly #ttlMs: () => number;
  readonly #now: () => number;

  constructor(opts: DeferredApprovalsOptions) {
    this.#queue = opts.queue;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** Parks a call; the item shows in `approvals list` and the console like any queued call. */
  park(req: EnqueueRequest): Promise<PendingApproval> {
    return this.#queue.enqueue(req, { timeoutMs: this.#ttlMs(), deferred: true });
  }

  /**
   * The state of this exact call: an item still waiting for a person, a decision (claimed here, exactly once), or
   * nothing. Expired items and unclaimed decisions older than the TTL are removed on the way.
   */
  async take(key: DeferredKey): Promise<DeferredState> {
    let pending: PendingApproval | undefined;
    for (const item of await this.#items()) {
      if (item.identity !== key.identity || item.server !== key.server || item.tool !== key.tool || item.argsDigest !== key.argsDigest) continue;
      const decision = await this.#queue.decisionOf(item.id);
      const now = this.#now();
      if (!decision) {
        // claimed by another retry since the list was read: gone, not pending
        if (!(await this.#queue.get(item.id))) continue;
        if (Date.parse(item.expiresAt) <= now) await this.#queue.decide(item.id, { decision: 'timeout', channel: 'gateway' }).then(() => this.#queue.claim(item.id)).catch(() => undefined);
        else pending ??= item;
        continue;
      }
      if (Date.parse(decision.decidedAt) + this.#ttlMs() <= now) {
        await this.#queue.claim(item.id); // an approval nobody used in time expires unused
        continue;
      }
      const claimed = await this.#queue.claim(item.id);
      if (claimed) return { kind: 'decided', item, decision: claimed };
    }
    return pending ? { kind: 'pending', item: pending } : { kind: 'none' };
  }

  #items(): Promise<PendingApproval[]> {
    return this.#queue.items({ deferred: true });
  }
}
