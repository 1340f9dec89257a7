// Tool pins in Postgres: one row per namespaced tool, shared by every replica; changes announced by LISTEN/NOTIFY.
import type pg from 'pg';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import {
  approvedPin, definitionHash, firstPin, rejectedPin, withPending,
  type PinBook, type PinObservation, type PinRecord, type PinnedDefinition,
} from '../../upstreams/pins.js';
import { describeDbError, type Db } from './db.js';

export const PINS_CHANNEL = 'tollgate_pins';

/**
 * The `tollgate.pins` table (schema version 4) behind the PinBook interface. Every write is one transaction that also
 * sends `pg_notify('tollgate_pins', tool)`, so every replica hears of it when it commits.
 *
 * Each process keeps a copy of the pins it has read, trusted for the pin check only while its LISTEN connection is up
 * and no notification for that tool arrived since the copy was read: otherwise the check reads the row (fails closed:
 * a database error refuses the call). Nothing polls; a lost LISTEN connection is re-opened with a backoff, and until
 * then every check reads the database.
 */
export class PgPinBook implements PinBook {
  readonly #db: Db;
  readonly #copy = new Map<string, PinRecord>();
  /** Bumped by every notification for a tool: a read that started before it must not be kept. */
  readonly #generation = new Map<string, number>();
  readonly #stale = new Set<string>();
  readonly #listeners: ((tool: string) => void)[] = [];
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #retryMs = 100;
  #closed = false;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Resolves once this process is listening. Started by the first check (a CLI that only approves never listens). */
  listening(): Promise<void> {
    return this.#client ? Promise.resolve() : this.#listen();
  }

  #startListening(): void {
    if (!this.#client && !this.#connecting && !this.#retry && !this.#closed) this.#listen().catch(() => this.#reconnectLater());
  }

  onChange(listener: (tool: string) => void): void {
    this.#listeners.push(listener);
  }

  #listen(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('pin store is closed'));
    this.#connecting ??= (async () => {
      const c = this.#db.client();
      c.on('error', () => this.#lost(c));
      c.on('end', () => this.#lost(c));
      c.on('notification', (n) => {
        if (n.channel === PINS_CHANNEL && n.payload) void this.#changed(n.payload);
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${PINS_CHANNEL}`);
      } catch (e) {
        c.end().catch(() => undefined);
        throw e;
      }
      if (this.#closed) {
        c.end().catch(() => undefined);
        return;
      }
      this.#client = c;
      this.#retryMs = 100;
      // whatever changed while nobody listened: every copy is read again before it is trusted
      await Promise.all([...this.#copy.keys()].map((tool) => this.#changed(tool)));
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  #lost(c: pg.Client): void {
    if (this.#client !== c) return;
    this.#client = undefined;
    c.end().catch(() => undefined);
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#listen().catch(() => {
        this.#retryMs = Math.min(this.#retryMs * 2, 5000);
        this.#reconnectLater();
      });
    }, this.#retryMs);
    this.#retry.unref();
  }

  /** Another process (or this one) wrote the tool's pin: the copy is stale until read again. */
  async #changed(tool: string): Promise<void> {
    this.#generation.set(tool, (this.#generation.get(tool) ?? 0) + 1);
    this.#stale.add(tool);
    await this.#load(tool).catch(() => undefined);
    for (const l of this.#listeners) l(tool);
  }

  async #load(tool: string): Promise<PinRecord | undefined> {
    const gen = this.#generation.get(tool) ?? 0;
    const r = await this.#db.pool.query<{ record: PinRecord }>('SELECT record FROM tollgate.pins WHERE tool = $1', [tool]);
    const rec = r.rows[0]?.record;
    // keep it only if no change was announced while it was being read, and only while listening
    if ((this.#generation.get(tool) ?? 0) === gen) {
      if (rec) this.#copy.set(tool, rec);
      else this.#copy.delete(tool);
      if (this.#client) this.#stale.delete(tool);
    }
    return rec;
  }

  /** The pin as the database has it now: the copy when it can be trusted, else the row. */
  async #current(tool: string): Promise<PinRecord | undefined> {
    if (this.#client && !this.#stale.has(tool) && this.#copy.has(tool)) return this.#copy.get(tool);
    return this.#load(tool);
  }

  #fail(e: unknown): Error {
    return new Error(`the tool pins cannot be checked (${describeDbError(e, this.#db.host, this.#db.port)}); refusing the call`);
  }

  /** One transaction: the row locked (or absent), the next record computed from it, written and announced. */
  async #update(tool: string, next: (rec: PinRecord | undefined) => PinRecord | undefined): Promise<{ before: PinRecord | undefined; after: PinRecord | undefined; wrote: boolean }> {
    const c = await this.#db.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await c.query<{ record: PinRecord }>('SELECT record FROM tollgate.pins WHERE tool = $1 FOR UPDATE', [tool]);
      const before = r.rows[0]?.record;
      const after = next(before);
      if (after && after !== before) {
        await c.query(
          `INSERT INTO tollgate.pins (tool, record, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (tool) DO UPDATE SET record = EXCLUDED.record, updated_at = now()`,
          [tool, JSON.stringify(after)],
        );
        await c.query('SELECT pg_notify($1, $2)', [PINS_CHANNEL, tool]);
      }
      await c.query('COMMIT');
      const wrote = !!after && after !== before;
      if (wrote) this.#copy.set(tool, after);
      return { before, after: after ?? before, wrote };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async observe(namespaced: string, tool: Tool): Promise<PinObservation> {
    const hash = definitionHash(tool);
    this.#startListening();
    let rec: PinRecord | undefined;
    try {
      rec = await this.#current(namespaced);
      if (rec && (rec.hash === hash || rec.pending?.hash === hash)) return statusOf(rec, hash, false);
      if (!rec) {
        // trust on first use, once across every replica: the first INSERT wins, every other replica checks against it
        const first = firstPin(namespaced, tool);
        const r = await this.#db.pool.query(
          `WITH ins AS (INSERT INTO tollgate.pins (tool, record) VALUES ($1, $2) ON CONFLICT (tool) DO NOTHING RETURNING tool)
           SELECT pg_notify($3, tool) FROM ins`,
          [namespaced, JSON.stringify(first), PINS_CHANNEL],
        );
        if (r.rowCount) {
          this.#copy.set(namespaced, first);
          return { state: 'pinned', firstSeen: true };
        }
      }
      // a definition this pin does not know: recorded as pending under the row lock approve() takes too
      const u = await this.#update(namespaced, (now) => (now ? withPending(now, tool) ?? now : firstPin(namespaced, tool)));
      return statusOf(u.after!, hash, u.wrote && !!u.before);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  approvedDefinition(namespaced: string, tool: Tool): PinnedDefinition | undefined {
    this.#startListening();
    const rec = this.#copy.get(namespaced);
    if (!rec) {
      // not read yet (or the database did not answer): the model is not shown a description nobody checked
      this.#load(namespaced).catch(() => undefined);
      return { name: tool.name, description: 'Tollgate has not checked this tool against its pin yet; calls are checked before they run.' };
    }
    return rec.hash !== definitionHash(tool) ? rec.definition : undefined;
  }

  async read(tool: string): Promise<PinRecord | undefined> {
    return this.#load(tool);
  }

  async list(): Promise<PinRecord[]> {
    const r = await this.#db.pool.query<{ record: PinRecord }>('SELECT record FROM tollgate.pins ORDER BY tool');
    return r.rows.map((x) => x.record).sort((a, b) => a.tool.localeCompare(b.tool));
  }

  async approve(namespaced: string, approver: string, expectedHash?: string): Promise<PinRecord> {
    return (await this.#update(namespaced, (rec) => approvedPin(namespaced, rec, approver, expectedHash))).after!;
  }

  async reject(namespaced: string, by: string, expectedHash?: string): Promise<PinRecord> {
    return (await this.#update(namespaced, (rec) => rejectedPin(namespaced, rec, by, expectedHash))).after!;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#connecting?.catch(() => undefined);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}

function statusOf(rec: PinRecord, hash: string, newlyChanged: boolean): PinObservation {
  if (rec.hash === hash) return { state: 'pinned' };
  return { state: 'changed', previousHash: rec.hash, currentHash: hash, newlyChanged };
}

/** `tollgate storage import`: pins from a files data dir; a tool already pinned in the database keeps its row. */
export async function importPins(pool: pg.Pool, pins: PinRecord[]): Promise<number> {
  let n = 0;
  for (const p of pins) {
    const r = await pool.query('INSERT INTO tollgate.pins (tool, record) VALUES ($1, $2) ON CONFLICT (tool) DO NOTHING', [p.tool, JSON.stringify(p)]);
    n += r.rowCount ?? 0;
  }
  return n;
}
