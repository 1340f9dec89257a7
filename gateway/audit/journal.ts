// The journal: append-only, hash-chained JSONL files with group-committed fdatasync.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GENESIS, sealRecord } from './chain.js';
import { JournalRecordSchema } from './events.js';

const fdatasync = promisify(fs.fdatasync);
const fsyncFd = promisify(fs.fsync);

export const DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024;
const FILE_RE = /^journal-(\d{6,})\.jsonl$/;

export function journalFileName(n: number): string {
  return `journal-${String(n).padStart(6, '0')}.jsonl`;
}

/** A final line that a crash cut short: never a record, always reported. */
export interface TornTail {
  file: string;
  line: number;
  bytes: number;
}

export interface JournalOptions {
  dir: string;
  maxFileBytes?: number;
  /** Longest a `soon` record waits for its fdatasync (default 20 ms). */
  lazySyncMs?: number;
}

export const DEFAULT_LAZY_SYNC_MS = 20;
/** A sync this long after the previous one finished runs inline (see sync() below). */
const INLINE_SYNC_IDLE_MS = 1;
/** ... and only while fdatasync itself is quick. */
const INLINE_SYNC_MAX_MS = 2;

/**
 * How soon an appended record must reach the disk. Every record is written to the file in the microtask after it is
 * appended (so a crash of the gateway process loses nothing); `now` records are also fdatasync'ed before their promise
 * resolves (a decision the gateway is about to act on), `soon` records ride on the next sync, at the latest
 * `lazySyncMs` later (only a power loss or kernel crash can lose them).
 */
export type Sync = 'now' | 'soon';

export interface Journal {
  /** Assigns seq/prev/hash now (chain order = call order); the promise resolves once fdatasync'ed. */
  append(fields: Record<string, unknown>, sync?: Sync): { record: Record<string, unknown> & { seq: number; hash: string }; durable: Promise<void> };
  readonly records: number;
  /** Set when open found a torn final line; appends went to a fresh file so the torn bytes stay as evidence. */
  readonly tornTail: TornTail | undefined;
  close(): Promise<void>;
}

interface Pending {
  line: Buffer;
  sync: Sync;
  resolve: () => void;
  reject: (e: Error) => void;
}

export async function listJournalFiles(dir: string): Promise<Array<{ n: number; file: string }>> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((name) => ({ m: FILE_RE.exec(name), name }))
    .filter((x): x is { m: RegExpExecArray; name: string } => x.m !== null)
    .map((x) => ({ n: Number(x.m[1]), file: path.join(dir, x.name) }))
    .sort((a, b) => a.n - b.n);
}

/** Splits file bytes into complete lines plus whatever follows the last newline. */
export function splitLines(buf: Buffer): { lines: string[]; tail: Buffer } {
  const end = buf.lastIndexOf(0x0a);
  const body = end < 0 ? '' : buf.subarray(0, end).toString('utf8');
  return { lines: end < 0 ? [] : body.split('\n'), tail: buf.subarray(end + 1) };
}

function takeLock(dir: string): string {
  const lock = path.join(dir, 'journal.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new Error(`audit journal ${dir} is in use by process ${pid}; two writers would fork the hash chain`);
      }
      fs.rmSync(lock, { force: true }); // stale: its writer is gone
    }
  }
  throw new Error(`could not lock audit journal ${dir}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function openJournal(opts: JournalOptions): Promise<Journal> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (!(maxFileBytes >= 1024)) throw new Error(`journal.maxFileBytes must be at least 1024, got ${maxFileBytes}`);
  await fsp.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const lock = takeLock(opts.dir);

  // resume the chain from the newest complete record; a torn tail is left in place and reported
  const files = await listJournalFiles(opts.dir);
  let seq = 0;
  let prev = GENESIS;
  let tornTail: TornTail | undefined;
  let appendTo: { n: number; file: string; size: number } | undefined;
  for (let i = files.length - 1; i >= 0; i--) {
    const f = files[i]!;
    const buf = await fsp.readFile(f.file);
    const { lines, tail } = splitLines(buf);
    const isNewest = i === files.length - 1;
    if (isNewest && tail.length > 0) tornTail = { file: f.file, line: lines.length + 1, bytes: tail.length };
    if (isNewest && !tornTail && buf.length < maxFileBytes) appendTo = { ...f, size: buf.length };
    const last = lines.length ? lines[lines.length - 1] : undefined;
    if (last === undefined) continue;
    const parsed = JournalRecordSchema.safeParse(safeJson(last));
    if (!parsed.success) {
      throw new Error(`${path.basename(f.file)}:${lines.length}: last complete journal line is not a record; run "tollgate audit verify"`);
    }
    seq = parsed.data.seq;
    prev = parsed.data.hash;
    break;
  }
  const nextFileNo = (files.at(-1)?.n ?? 0) + 1;
  let current = appendTo ?? { n: nextFileNo, file: path.join(opts.dir, journalFileName(nextFileNo)), size: 0 };
  let fd = fs.openSync(current.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  if (!appendTo) await syncDir(opts.dir);

  let pending: Pending[] = [];
  let broken: Error | undefined;
  let records = 0;
  let closed = false;

  async function rotate(): Promise<void> {
    await fdatasync(fd);
    fs.closeSync(fd);
    fd = -1; // if opening the next file fails, nothing may later sync or close a number another file now holds
    const n = current.n + 1;
    current = { n, file: path.join(opts.dir, journalFileName(n)), size: 0 };
    fd = fs.openSync(current.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    await syncDir(opts.dir);
  }

  function writeAll(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    current.size += buf.length;
  }

  /** Writes the batch in order (rotating files as needed); syncing is the caller's. */
  async function writeBatch(batch: Pending[]): Promise<void> {
    let segment: Buffer[] = [];
    let segBytes = 0;
    for (const p of batch) {
      if (current.size + segBytes + p.line.length > maxFileBytes && current.size + segBytes > 0) {
        if (segment.length) writeAll(Buffer.concat(segment, segBytes));
        segment = [];
        segBytes = 0;
        await rotate(); // syncs the old file, so what was written to it is durable
      }
      segment.push(p.line);
      segBytes += p.line.length;
    }
    if (segment.length) writeAll(Buffer.concat(segment, segBytes));
  }

  // written, not yet fdatasync'ed (`soon` records waiting for the next sync)
  let unsynced: Pending[] = [];
  let syncDue = false;
  let syncTimer: NodeJS.Timeout | undefined;
  const lazySyncMs = opts.lazySyncMs ?? DEFAULT_LAZY_SYNC_MS;

  // A sync a decision waits on runs inline when the journal has been idle and the disk is fast: nothing else is
  // waiting, and it saves two thread hand-offs (~0.1-0.3 ms on a VM). When syncs come back to back (concurrent
  // calls) it goes to the thread pool, so the event loop keeps serving and the decisions that arrive meanwhile share
  // the next fdatasync (group commit); so do syncs nothing waits on (the lazy timer), and every sync on a disk whose
  // last fdatasync took longer than INLINE_SYNC_MAX_MS (a network volume must not stall every session).
  let lastSyncEnd = 0;
  let lastSyncMs = 0;
  async function sync(someoneWaits: boolean): Promise<void> {
    const started = performance.now();
    if (someoneWaits && started - lastSyncEnd >= INLINE_SYNC_IDLE_MS && lastSyncMs < INLINE_SYNC_MAX_MS) fs.fdatasyncSync(fd);
    else await fdatasync(fd);
    lastSyncEnd = performance.now();
    lastSyncMs = lastSyncEnd - started;
  }

  function scheduleSync(): void {
    if (syncTimer) return;
    syncTimer = setTimeout(() => {
      syncTimer = undefined;
      syncDue = true;
      void flush();
    }, lazySyncMs); // not unref'd: whoever awaits a `soon` record gets its answer even if nothing else keeps the process up
  }

  // The flush under way, if any; one at a time. It starts in a microtask, so appends made in the same tick share
  // one write + fdatasync, and it picks up whatever is appended while it runs.
  let running: Promise<void> | undefined;
  function flush(): Promise<void> {
    running ??= Promise.resolve().then(flushLoop);
    return running;
  }

  async function flushLoop(): Promise<void> {
    try {
      // once closing, every batch is synced: close() must not wait on a timer
      while (pending.length || ((syncDue || closed) && unsynced.length)) {
        const batch = pending;
        pending = [];
        if (broken) {
          for (const p of [...unsynced, ...batch]) p.reject(broken);
          unsynced = [];
          continue;
        }
        try {
          await writeBatch(batch);
          records += batch.length;
          for (const p of batch) unsynced.push(p);
          const someoneWaits = batch.some((p) => p.sync === 'now');
          if (syncDue || closed || someoneWaits) {
            syncDue = false;
            clearTimeout(syncTimer);
            syncTimer = undefined;
            await sync(someoneWaits);
            const done = unsynced;
            unsynced = [];
            for (const p of done) p.resolve();
          } else if (unsynced.length) {
            scheduleSync();
          }
        } catch (e) {
          // the file may now hold part of a line: refuse every later append rather than fork the chain
          broken = new Error(`audit journal write failed (${(e as Error).message}); refusing further records`);
          for (const p of [...unsynced, ...batch]) p.reject(broken);
          unsynced = [];
        }
      }
    } finally {
      running = undefined;
    }
  }

  return {
    append(fields, sync = 'now') {
      if (closed) throw new Error('audit journal is closed');
      seq += 1;
      const record = { ...fields, seq, prev, hash: '' } as Record<string, unknown> & { seq: number; hash: string };
      const sealed = sealRecord(record);
      record.hash = sealed.hash;
      prev = record.hash;
      const line = Buffer.from(`${sealed.line}\n`);
      const durable = new Promise<void>((resolve, reject) => {
        pending.push({ line, sync, resolve, reject });
      });
      void flush();
      return { record, durable };
    },
    get records() {
      return records;
    },
    tornTail,
    async close() {
      if (closed) return;
      closed = true;
      syncDue = true;
      while (running || pending.length || (unsynced.length && !broken)) await flush();
      clearTimeout(syncTimer);
      try {
        if (fd >= 0) await fdatasync(fd);
      } finally {
        if (fd >= 0) fs.closeSync(fd);
        fd = -1;
        fs.rmSync(lock, { force: true });
      }
    },
  };
}

async function syncDir(dir: string): Promise<void> {
  const dfd = fs.openSync(dir, 'r');
  try {
    await fsyncFd(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
