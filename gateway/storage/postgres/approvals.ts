// The approvals queue in Postgres: rows decided once (a conditional UPDATE), woken across replicas by LISTEN/NOTIFY.
import type pg from 'pg';
import {
  ApprovalQueueError, NotifyOutcomeSchema, PendingApprovalSchema, QueueDecisionSchema, approvalTokenHash, newItem,
  type NotifyOutcome,
  type ApprovalStore, type DecideInput, type EnqueueRequest, type PendingApproval, type QueueDecision, type WaitOptions,
} from '../../review/queue.js';
import type { Db } from './db.js';

export const APPROVALS_CHANNEL = 'tollgate_approvals';

/**
 * One LISTEN connection per process, shared by every waiting call. A notification carries the decided item's id and
 * wakes exactly its waiters. When the connection is lost it reconnects, and then wakes every waiter once (a decision
 * may have been made while nobody was listening) — a recovery step, not a polling loop.
 */
export class ApprovalListener {
  readonly #db: Db;
  readonly #waiters = new Map<string, Set<() => void>>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Resolves once this process is listening (so a decision made after it returns is never missed). */
  async subscribe(id: string, wake: () => void): Promise<() => void> {
    let set = this.#waiters.get(id);
    if (!set) this.#waiters.set(id, (set = new Set()));
    set.add(wake);
    const off = () => {
      set!.delete(wake);
      if (!set!.size) this.#waiters.delete(id);
    };
    try {
      await this.#ensure();
    } catch {
      // not listening now: the reconnect below wakes every waiter once it is
      this.#reconnectLater();
    }
    return off;
  }

  #ensure(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= (async () => {
      const c = this.#db.client();
      c.on('error', () => this.#lost(c));
      c.on('end', () => this.#lost(c));
      c.on('notification', (n) => {
        if (n.channel !== APPROVALS_CHANNEL || !n.payload) return;
        for (const wake of this.#waiters.get(n.payload) ?? []) wake();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${APPROVALS_CHANNEL}`);
      } catch (e) {
        c.end().catch(() => undefined);
        throw e;
      }
      this.#client = c;
      // anything decided before LISTEN took effect: every waiter looks once
      for (const set of this.#waiters.values()) for (const wake of set) wake();
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  #lost(c: pg.Client): void {
    if (this.#client !== c) return;
    this.#client = undefined;
    c.end().catch(() => undefined);
    this.#reconnectLater();
  }

  #retry: NodeJS.Timeout | undefined;
  #retryMs = 100;
  #reconnectLater(): void {
    if (this.#closed || this.#retry || !this.#waiters.size) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#ensure().then(() => (this.#retryMs = 100), () => {
        this.#retryMs = Math.min(this.#retryMs * 2, 2000);
        this.#reconnectLater();
      });
    }, this.#retryMs);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#connecting?.catch(() => undefined);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}

type Row = { item: unknown; decision: unknown };

const parseItem = (v: unknown) => {
  const p = PendingApprovalSchema.safeParse(v);
  return p.success ? p.data : undefined;
};
const parseDecision = (v: unknown) => {
  if (v === null || v === undefined) return undefined;
  const p = QueueDecisionSchema.safeParse(v);
  return p.success ? p.data : undefined;
};

/** The queue of every replica on one database: `tollgate approvals` and every console see and decide the same items. */
export class PgApprovalQueue implements ApprovalStore {
  readonly #pool: pg.Pool;
  readonly #listener: ApprovalListener;
  readonly where: string;

  constructor(db: Db, listener: ApprovalListener) {
    this.#pool = db.pool;
    this.#listener = listener;
    this.where = `${db.where} (table tollgate.approvals)`;
  }

  async enqueue(req: EnqueueRequest, opts: { timeoutMs: number; deferred?: boolean }): Promise<PendingApproval & { token: string }> {
    const { token, ...item } = newItem(req, opts);
    await this.#pool.query(
      `INSERT INTO tollgate.approvals (id, item, token_hash, created_at, expires_at, deferred, identity, server, tool, args_digest)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [item.id, item, item.tokenHash, item.createdAt, item.expiresAt, !!item.deferred, item.identity ?? null, item.server, item.tool, item.argsDigest],
    );
    return { ...item, token };
  }

  async list(): Promise<PendingApproval[]> {
    const r = await this.#pool.query<Row>('SELECT item FROM tollgate.approvals WHERE decision IS NULL AND expires_at > now() ORDER BY created_at, id');
    return r.rows.map((x) => parseItem(x.item)).filter((x): x is PendingApproval => !!x);
  }

  async items(filter: { deferred?: boolean } = {}): Promise<PendingApproval[]> {
    const r = filter.deferred === undefined
      ? await this.#pool.query<Row>('SELECT item FROM tollgate.approvals ORDER BY created_at, id')
      : await this.#pool.query<Row>('SELECT item FROM tollgate.approvals WHERE deferred = $1 ORDER BY created_at, id', [filter.deferred]);
    return r.rows.map((x) => parseItem(x.item)).filter((x): x is PendingApproval => !!x);
  }

  async get(id: string): Promise<PendingApproval | undefined> {
    if (!/^[a-z0-9]{6,32}$/.test(id)) return undefined;
    const r = await this.#pool.query<Row>('SELECT item FROM tollgate.approvals WHERE id = $1', [id]);
    return r.rows[0] ? parseItem(r.rows[0].item) : undefined;
  }

  async getByToken(token: string): Promise<PendingApproval | undefined> {
    const r = await this.#pool.query<Row>('SELECT item FROM tollgate.approvals WHERE token_hash = $1 AND decision IS NULL AND expires_at > now()', [approvalTokenHash(token)]);
    return r.rows[0] ? parseItem(r.rows[0].item) : undefined;
  }

  async decisionOf(id: string): Promise<QueueDecision | undefined> {
    const r = await this.#pool.query<Row>('SELECT decision FROM tollgate.approvals WHERE id = $1', [id]);
    return parseDecision(r.rows[0]?.decision);
  }

  /** The first decision wins: an UPDATE of an undecided row, and its NOTIFY, in one statement (sent on commit). */
  async decide(id: string, d: DecideInput): Promise<QueueDecision> {
    const decision: QueueDecision = { decision: d.decision, ...(d.approver ? { approver: d.approver } : {}), ...(d.reason ? { reason: d.reason } : {}), channel: d.channel, decidedAt: new Date().toISOString() };
    const r = await this.#pool.query(
      `WITH won AS (
         UPDATE tollgate.approvals SET decision = $2, decided_at = now()
         WHERE id = $1 AND decision IS NULL AND ($3 OR expires_at > now()) RETURNING id)
       SELECT pg_notify('${APPROVALS_CHANNEL}', id) FROM won`,
      [id, decision, d.channel === 'gateway'],
    );
    if (r.rowCount === 1) return decision;
    const row = (await this.#pool.query<{ decided: boolean; expired: boolean }>('SELECT decision IS NOT NULL AS decided, expires_at <= now() AS expired FROM tollgate.approvals WHERE id = $1', [id])).rows[0];
    if (!row) throw new ApprovalQueueError(`no pending approval with id "${id}"`);
    if (row.decided) throw new ApprovalQueueError(`approval "${id}" was already decided`);
    throw new ApprovalQueueError(`approval "${id}" has expired`);
  }

  /** Like the files queue's wait, woken by NOTIFY instead of fs.watch; timeout and cancel are decided here. */
  async wait(id: string, opts: WaitOptions): Promise<QueueDecision> {
    const started = Date.now();
    let off: (() => void) | undefined;
    let beat: NodeJS.Timeout | undefined;
    let limit: NodeJS.Timeout | undefined;
    try {
      return await new Promise<QueueDecision>((resolve) => {
        let settled = false;
        const settle = (d: QueueDecision) => {
          if (settled) return;
          settled = true;
          resolve(d);
        };
        const check = async () => {
          if (settled) return;
          const d = await this.decisionOf(id).catch(() => undefined);
          if (d) settle(d);
        };
        const closeAs = async (decision: 'timeout' | 'cancel') => {
          if (settled) return;
          try {
            settle(await this.decide(id, { decision, channel: 'gateway' }));
          } catch {
            await check();
            settle({ decision, channel: 'gateway', decidedAt: new Date().toISOString() });
          }
        };
        if (opts.onWaiting) beat = setInterval(() => opts.onWaiting!(Date.now() - started), opts.waitingIntervalMs ?? 5000);
        limit = setTimeout(() => void closeAs('timeout'), opts.timeoutMs);
        if (opts.signal.aborted) void closeAs('cancel');
        else opts.signal.addEventListener('abort', () => void closeAs('cancel'), { once: true });
        void this.#listener.subscribe(id, () => void check()).then((o) => {
          off = o;
          if (settled) o();
          return check(); // decided before we listened
        });
      });
    } finally {
      off?.();
      clearInterval(beat);
      clearTimeout(limit);
      await this.remove(id).catch(() => undefined);
    }
  }

  async prune(graceMs = 60 * 60_000): Promise<number> {
    const r = await this.#pool.query('DELETE FROM tollgate.approvals WHERE expires_at < now() - make_interval(secs => $1)', [graceMs / 1000]);
    return r.rowCount ?? 0;
  }

  /** Exactly once: of two replicas deleting a decided row at once, the second finds it gone (row lock, then no row). */
  async claim(id: string): Promise<QueueDecision | undefined> {
    const r = await this.#pool.query<Row>('DELETE FROM tollgate.approvals WHERE id = $1 AND decision IS NOT NULL RETURNING decision', [id]);
    return parseDecision(r.rows[0]?.decision);
  }

  async remove(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM tollgate.approvals WHERE id = $1', [id]);
  }

  async noteNotified(id: string, outcome: NotifyOutcome): Promise<void> {
    await this.#pool.query('UPDATE tollgate.approvals SET notified = $2 WHERE id = $1', [id, JSON.stringify(outcome)]);
  }

  async notifiedOf(id: string): Promise<NotifyOutcome | undefined> {
    if (!/^[a-z0-9]{6,32}$/.test(id)) return undefined;
    const r = await this.#pool.query<{ notified: unknown }>('SELECT notified FROM tollgate.approvals WHERE id = $1', [id]);
    const parsed = NotifyOutcomeSchema.safeParse(r.rows[0]?.notified);
    return parsed.success ? parsed.data : undefined;
  }
}
