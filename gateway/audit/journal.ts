// The journal: append-only, hash-chained JSONL files with group-committed fdatasync.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { tryLockFile, type LockAttempt } from '../state/index.js';
import { GENESIS, sealRecord } from './chain.js';
import { JournalRecordSchema } from './events.js';

// Looked up on every call (not bound once), so a test can stand in a slow disk for the real one.
const fdatasync = (fd: number) => new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));
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
  /** Which chain this writer appends to: `main` (`<audit>/`) or the id of one under `<audit>/chains/`. */
  readonly chain: string;
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

/** Chain directories this process holds: a second writer in the same process would fork a chain too. */
const openDirs = new Set<string>();

/** The chain in `<audit>/` itself (the layout before many writers): the first writer to come takes it. */
export const MAIN_CHAIN = 'main';
/** Further chains, one directory each: `<audit>/chains/<id>/journal-NNNNNN.jsonl`. */
export const CHAINS_DIR = 'chains';
const CHAIN_ID_RE = /^[0-9]{8}t[0-9]{6}z-[a-z0-9-]{1,40}$/;

export interface ChainDir {
  /** `main`, or the directory name under `chains/`. */
  id: string;
  dir: string;
}

/** Every chain under an audit directory: `main` first (when it has files), then the others by id (= creation time). */
export async function listChains(auditDir: string): Promise<ChainDir[]> {
  const out: ChainDir[] = [];
  if ((await listJournalFiles(auditDir)).length) out.push({ id: MAIN_CHAIN, dir: auditDir });
  let names: string[] = [];
  try {
    names = await fsp.readdir(path.join(auditDir, CHAINS_DIR));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  for (const n of names.filter((x) => CHAIN_ID_RE.test(x)).sort()) out.push({ id: n, dir: path.join(auditDir, CHAINS_DIR, n) });
  return out;
}

/** A new chain id: creation time first (so ids sort by age), then host, pid and randomness (so two never collide). */
export function newChainId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  const host = os.hostname().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 20) || 'host';
  return `${t}-${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Takes the lock of one chain directory, or says who holds it. Never waits and never takes a live writer's chain; a
 * lock whose writer is gone (or from before this machine last booted) is taken over, by one process only.
 */
function tryLock(dir: string): LockAttempt {
  const key = path.resolve(dir);
  if (openDirs.has(key)) return { held: false, why: 'open in this process' };
  const l = tryLockFile(path.join(dir, 'journal.lock'));
  if (!l.held) return l;
  openDirs.add(key);
  return { held: true, release: () => { openDirs.delete(key); l.release(); } };
}

/**
 * Finds this process a chain of its own: `main` if free, else a free chain a gone writer left (resumed, so the
 * number of chains stays at the most writers ever at once), else a new one.
 */
function claimChain(auditDir: string, chains: ChainDir[]): { chain: ChainDir; release: () => void } {
  for (const c of [{ id: MAIN_CHAIN, dir: auditDir }, ...chains.filter((x) => x.id !== MAIN_CHAIN)]) {
    const l = tryLock(c.dir);
    if (l.held) return { chain: c, release: l.release };
  }
  fs.mkdirSync(path.join(auditDir, CHAINS_DIR), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = newChainId();
    const dir = path.join(auditDir, CHAINS_DIR, id);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    const l = tryLock(dir);
    if (l.held) return { chain: { id, dir }, release: l.release };
  }
  throw new Error(`could not create a journal chain under ${path.join(auditDir, CHAINS_DIR)}`);
}

export async function openJournal(opts: JournalOptions): Promise<Journal> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (!(maxFileBytes >= 1024)) throw new Error(`journal.maxFileBytes must be at least 1024, got ${maxFileBytes}`);
  await fsp.mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const { chain, release: releaseDir } = claimChain(opts.dir, await listChains(opts.dir));
  const chainDir = chain.dir;

  // resume the chain from the newest complete record; a torn tail is left in place and reported
  const files = await listJournalFiles(chainDir);
  let seq = 0;
  let prev = GENESIS;
  let tornTail: TornTail | undefined;
  let appendTo: { n: number; file: string; size: number } | undefined;
  try {
    for (let i = files.length - 1; i >= 0; i--) {
      const f = files[i]!;
      const { last, size, torn } = await lastLine(f.file);
      const isNewest = i === files.length - 1;
      if (isNewest && torn) tornTail = { file: f.file, line: torn.line, bytes: torn.bytes };
      if (isNewest && !tornTail && size < maxFileBytes) appendTo = { ...f, size };
      if (last === undefined) continue;
      const parsed = JournalRecordSchema.safeParse(safeJson(last.text));
      if (!parsed.success) {
        throw new Error(`${path.relative(opts.dir, f.file)}:${last.line}: last complete journal line is not a record; run "tollgate audit verify"`);
      }
      seq = parsed.data.seq;
      prev = parsed.data.hash;
      break;
    }
  } catch (e) {
    releaseDir();
    throw e;
  }
  const nextFileNo = (files.at(-1)?.n ?? 0) + 1;
  let current = appendTo ?? { n: nextFileNo, file: path.join(chainDir, journalFileName(nextFileNo)), size: 0 };
  let fd = fs.openSync(current.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  if (!appendTo) await syncDir(chainDir);

  let pending: Pending[] = [];
  let broken: Error | undefined;
  let records = 0;
  let closed = false;
  let closing: Promise<void> | undefined;

  // While a rotation is under way the descriptor changes hands; a sync waits for it (see sync()).
  let rotating: Promise<void> | undefined;
  async function rotate(onOldFileSynced: () => void): Promise<void> {
    await fdatasync(fd);
    onOldFileSynced();
    fs.closeSync(fd);
    fd = -1; // if opening the next file fails, nothing may later sync or close a number another file now holds
    const n = current.n + 1;
    current = { n, file: path.join(chainDir, journalFileName(n)), size: 0 };
    fd = fs.openSync(current.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    await syncDir(chainDir);
  }

  function writeAll(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    current.size += buf.length;
  }

  // written, not yet fdatasync'ed (`soon` records waiting for the next sync)
  let unsynced: Pending[] = [];
  let syncDue = false;
  let syncTimer: NodeJS.Timeout | undefined;
  const lazySyncMs = opts.lazySyncMs ?? DEFAULT_LAZY_SYNC_MS;

  function fail(e: unknown, also: Pending[] = []): void {
    // the file may now hold part of a line: refuse every later append rather than fork the chain
    broken ??= new Error(`audit journal write failed (${(e as Error).message}); refusing further records`);
    for (const p of [...unsynced, ...also]) p.reject(broken);
    unsynced = [];
  }

  /**
   * Writes the batch in order, rotating files as needed. A record counts as written (and waits for a sync) once its
   * bytes are in the file; a rotation's fdatasync makes everything in the old file durable, so those settle there.
   */
  async function writeBatch(batch: Pending[]): Promise<void> {
    let segment: Pending[] = [];
    let segBytes = 0;
    const writeSegment = () => {
      if (!segment.length) return;
      writeAll(Buffer.concat(segment.map((p) => p.line), segBytes));
      records += segment.length;
      unsynced.push(...segment);
      segment = [];
      segBytes = 0;
    };
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (current.size + segBytes + p.line.length > maxFileBytes && current.size + segBytes > 0) {
        try {
          writeSegment();
        } catch (e) {
          return fail(e, batch.slice(i - segment.length));
        }
        // everything written so far is in the old file: the rotation's fdatasync makes it durable, even if
        // opening the next file then fails
        const inOldFile = unsynced;
        unsynced = [];
        let oldFileSynced = false;
        rotating = rotate(() => {
          oldFileSynced = true;
          for (const q of inOldFile) q.resolve();
        });
        try {
          await rotating;
        } catch (e) {
          return fail(e, [...(oldFileSynced ? [] : inOldFile), ...batch.slice(i)]);
        } finally {
          rotating = undefined;
        }
      }
      segment.push(p);
      segBytes += p.line.length;
    }
    try {
      writeSegment();
    } catch (e) {
      fail(e, segment);
    }
  }

  // A sync a decision waits on runs inline when the journal has been idle and the disk is fast: nothing else is
  // waiting, and it saves two thread hand-offs (~0.1-0.3 ms on a VM). When syncs come back to back (concurrent
  // calls) it goes to the thread pool, so the event loop keeps serving and the decisions that arrive meanwhile share
  // the next fdatasync (group commit); so do syncs nothing waits on (the lazy timer), and every sync on a disk whose
  // last fdatasync took longer than INLINE_SYNC_MAX_MS (a network volume must not stall every session).
  let lastSyncEnd = 0;
  let lastSyncMs = 0;
  async function sync(someoneWaits: boolean): Promise<void> {
    while (rotating) await rotating.catch(() => undefined);
    if (fd < 0) throw broken ?? new Error('the journal file is not open');
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
      kickSync();
    }, lazySyncMs); // not unref'd: whoever awaits a `soon` record gets its answer even if nothing else keeps the process up
  }

  // Two loops, one of each at a time. Writing starts in a microtask (appends made in the same tick share one write)
  // and never waits for a sync: records reach the file while an fdatasync is under way, so a crash of the process
  // loses none of them. Syncing covers what was written before it started; what is written meanwhile waits for the
  // next one (group commit).
  let writing: Promise<void> | undefined;
  let syncing: Promise<void> | undefined;
  function flush(): Promise<void> {
    writing ??= Promise.resolve().then(writeLoop);
    return writing;
  }

  async function writeLoop(): Promise<void> {
    try {
      while (pending.length) {
        const batch = pending;
        pending = [];
        if (broken) for (const p of batch) p.reject(broken);
        else await writeBatch(batch);
      }
    } finally {
      writing = undefined;
    }
    kickSync();
  }

  const wantsSync = () => unsynced.length > 0 && (syncDue || closed || unsynced.some((p) => p.sync === 'now'));
  function kickSync(): void {
    if (syncing) return; // the running loop looks again when its sync is done
    if (wantsSync()) syncing = syncLoop();
    else if (unsynced.length) scheduleSync();
  }

  async function syncLoop(): Promise<void> {
    try {
      while (wantsSync() && !broken) {
        const covered = unsynced;
        unsynced = [];
        syncDue = false;
        clearTimeout(syncTimer);
        syncTimer = undefined;
        try {
          await sync(covered.some((p) => p.sync === 'now'));
        } catch (e) {
          fail(e, covered);
          continue;
        }
        for (const p of covered) p.resolve();
      }
      if (broken) fail(broken);
    } finally {
      syncing = undefined;
    }
    if (unsynced.length && !broken) scheduleSync();
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
    chain: chain.id,
    close() {
      closing ??= (async () => {
        closed = true;
        syncDue = true;
        while (writing || syncing || pending.length || (unsynced.length && !broken)) {
          if (pending.length && !writing) void flush();
          if (!syncing && !writing) kickSync();
          await (writing ?? syncing ?? Promise.resolve());
        }
        clearTimeout(syncTimer);
        while (rotating) await rotating.catch(() => undefined);
        try {
          if (fd >= 0) await fdatasync(fd);
        } finally {
          if (fd >= 0) fs.closeSync(fd);
          fd = -1;
          releaseDir();
        }
      })();
      return closing;
    },
  };
}

const TAIL_CHUNK = 256 * 1024;

/**
 * The last complete line of a journal file and whatever follows it, reading only the file's end (a file may be tens
 * of MB; start-up must not read it whole). Line numbers are counted only when there is a torn tail or a bad line to name.
 */
async function lastLine(file: string): Promise<{ last?: { text: string; line: number }; size: number; torn?: { line: number; bytes: number } }> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let chunk = Math.min(size, TAIL_CHUNK);
    for (;;) {
      const buf = Buffer.alloc(chunk);
      await fh.read(buf, 0, chunk, size - chunk);
      const end = buf.lastIndexOf(0x0a);
      const tailBytes = end < 0 ? chunk : chunk - end - 1;
      const start = end < 0 ? -1 : buf.lastIndexOf(0x0a, end - 1);
      const whole = chunk === size;
      if (end >= 0 && (start >= 0 || whole)) {
        const text = buf.subarray(start + 1, end).toString('utf8');
        const needLineNo = tailBytes > 0 || JournalRecordSchema.safeParse(safeJson(text)).success === false;
        const line = needLineNo ? countLines(await fsp.readFile(file), size - chunk + end) : 0;
        return { last: { text, line }, size, ...(tailBytes > 0 ? { torn: { line: line + 1, bytes: tailBytes } } : {}) };
      }
      if (whole) return { size, ...(tailBytes > 0 ? { torn: { line: 1, bytes: tailBytes } } : {}) };
      chunk = Math.min(size, chunk * 4);
    }
  } finally {
    await fh.close();
  }
}

/** The number of the line that ends with the newline at byte `at`. */
function countLines(buf: Buffer, at: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0 && i <= at; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
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
