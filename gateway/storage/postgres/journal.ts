// The journal in Postgres: one hash chain per writer process (rows of audit_records), group-committed.
import * as os from 'node:os';
import type pg from 'pg';
import { GENESIS, sealRecord } from '../../audit/chain.js';
import { newChainId, type Journal, type Sync } from '../../audit/journal.js';
import { describeDbError } from './db.js';

interface Pending {
  row: [seq: number, time: string, name: string, sessionId: string | null, callId: string | null, line: string];
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface PgJournalOptions {
  pool: pg.Pool;
  host: string;
  port: number;
  /** First wait before re-reading the chain's head after the database was lost (doubles up to 2 s; default 100 ms). */
  retryMs?: number;
  /**
   * `cli`: continue this host's and OS user's CLI chain (one for every admin act, not one each), holding an advisory
   * lock on it until close so two CLI runs at once append one after the other and never fork it. Default: a new chain.
   */
  writer?: 'process' | 'cli';
  /** How long a CLI run waits for another holding the CLI chain (default 10 s). */
  lockTimeoutMs?: number;
}

/** The CLI chain of this host and OS user: a stable id in the files chain id's alphabet. */
export function cliChainId(): string {
  const clean = (s: string, n: number) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, n);
  let user = String(process.getuid?.() ?? 'user');
  try {
    user = os.userInfo().username || user;
  } catch {
    /* no passwd entry: the uid names the user */
  }
  return `cli-${clean(os.hostname(), 40) || 'host'}-${clean(user, 32) || 'user'}`;
}

/** Takes the CLI chain's lock on a connection of its own and reads the chain's head; the lock ends with that connection. */
async function openCliChain(opts: PgJournalOptions, chain: string): Promise<{ seq: number; prev: string; unlock: () => Promise<void> }> {
  const c = await opts.pool.connect();
  let done = false;
  const unlock = async () => {
    if (done) return;
    done = true;
    await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [chain]).catch(() => undefined);
    c.release();
  };
  try {
    await c.query(`SET lock_timeout = ${Math.max(1, Math.round(opts.lockTimeoutMs ?? 10_000))}`);
    try {
      await c.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [chain]);
    } catch (e) {
      if ((e as { code?: string }).code === '55P03') throw new Error(`another tollgate command on this host holds the CLI journal chain ${chain} (waited ${Math.round((opts.lockTimeoutMs ?? 10_000) / 1000)} s); try again`);
      throw e;
    }
    await c.query('RESET lock_timeout');
    await c.query('INSERT INTO tollgate.audit_chains (id, host, pid) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [chain, os.hostname(), process.pid]);
    const r = await c.query<{ seq: string; line: string }>('SELECT seq, line FROM tollgate.audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [chain]);
    const head = r.rows[0];
    return { seq: head ? Number(head.seq) : 0, prev: head ? (JSON.parse(head.line) as { hash: string }).hash : GENESIS, unlock };
  } catch (e) {
    await unlock();
    throw e;
  }
}

/**
 * Same record format and hashing as the files journal (sealRecord), so one verifier checks both. Durable before acted
 * on: a record's promise resolves only once the INSERT that carries it has committed (synchronous_commit, Postgres's
 * default, means committed = flushed to its WAL). Records arriving while an INSERT is in flight share the next one.
 *
 * Fails closed and recovers: when a write fails, it and every record queued behind it (whose `prev` depends on it) are
 * rejected, and so is every append until the chain's head has been read back from the database — so the chain never
 * forks, whether or not the failed commit reached the disk. Then appends continue from that head.
 */
export async function openPgJournal(opts: PgJournalOptions): Promise<Journal> {
  const { pool } = opts;
  const chain = opts.writer === 'cli' ? cliChainId() : newChainId();
  let seq = 0;
  let prev = GENESIS;
  let unlock: (() => Promise<void>) | undefined;
  try {
    if (opts.writer === 'cli') ({ seq, prev, unlock } = await openCliChain(opts, chain));
    else await pool.query('INSERT INTO tollgate.audit_chains (id, host, pid) VALUES ($1, $2, $3)', [chain, os.hostname(), process.pid]);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('another tollgate command')) throw e;
    throw new Error(`cannot open a journal chain in the database: ${describeDbError(e, opts.host, opts.port)}`);
  }
  let pending: Pending[] = [];
  let writing: Promise<void> | undefined;
  let broken: Error | undefined;
  let recovering: Promise<void> | undefined;
  let records = 0;
  let closed = false;
  const retryMs = opts.retryMs ?? 100;

  async function insert(batch: Pending[]): Promise<void> {
    const cols: unknown[][] = [[], [], [], [], [], []];
    for (const p of batch) p.row.forEach((v, i) => cols[i]!.push(v));
    await pool.query(
      `INSERT INTO tollgate.audit_records (chain, seq, time, name, session_id, call_id, line)
       SELECT $1, * FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])`,
      [chain, ...cols],
    );
  }

  function fail(e: unknown, batch: Pending[]): void {
    broken = new Error(`the audit database is unavailable (${describeDbError(e, opts.host, opts.port)}); refusing to act on what cannot be recorded`);
    for (const p of [...batch, ...pending]) p.reject(broken);
    pending = [];
    recover();
  }

  /** Reads the chain's head back (whatever the failed write left there), then lets appends continue from it. */
  function recover(): void {
    recovering ??= (async () => {
      for (let wait = retryMs; !closed; wait = Math.min(wait * 2, 2000)) {
        try {
          const r = await pool.query<{ seq: string; line: string }>('SELECT seq, line FROM tollgate.audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [chain]);
          const head = r.rows[0];
          seq = head ? Number(head.seq) : 0;
          prev = head ? (JSON.parse(head.line) as { hash: string }).hash : GENESIS;
          broken = undefined;
          return;
        } catch {
          await new Promise((ok) => setTimeout(ok, wait).unref());
        }
      }
    })().finally(() => (recovering = undefined));
  }

  async function writeLoop(): Promise<void> {
    try {
      while (pending.length) {
        const batch = pending;
        pending = [];
        try {
          await insert(batch);
        } catch (e) {
          fail(e, batch);
          return;
        }
        records += batch.length;
        for (const p of batch) p.resolve();
      }
    } finally {
      writing = undefined;
    }
  }

  return {
    append(fields, _sync: Sync = 'now') {
      if (closed) throw new Error('audit journal is closed');
      if (broken) {
        // nothing is assigned: the head is not known until the database answers again
        const durable = Promise.reject(broken);
        durable.catch(() => undefined);
        return { record: { ...fields, seq: 0, hash: '' }, durable };
      }
      seq += 1;
      const record = { ...fields, seq, prev, hash: '' } as Record<string, unknown> & { seq: number; hash: string };
      const sealed = sealRecord(record);
      record.hash = sealed.hash;
      prev = record.hash;
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      const durable = new Promise<void>((resolve, reject) => {
        pending.push({ row: [seq, String(record.time), String(record.name), str(record.sessionId), str(record.callId), sealed.line], resolve, reject });
      });
      // the INSERT starts in a microtask: appends made in the same tick share it; later ones wait for the next
      writing ??= Promise.resolve().then(writeLoop);
      return { record, durable };
    },
    get records() {
      return records;
    },
    tornTail: undefined,
    chain,
    async close() {
      while (writing) await writing;
      closed = true;
      await recovering;
      await unlock?.();
    },
  };
}
