// State files that every process on one data dir shares: atomic replacement, exclusive creation, cross-process locks.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Who holds a lock: a pid alone says nothing across hosts, containers or reboots. */
export interface LockOwner {
  pid: number;
  host?: string;
  boot?: string;
}

let boot: string | undefined;
function bootId(): string {
  if (boot === undefined) {
    try {
      boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = '';
    }
  }
  return boot;
}

export function thisProcess(): LockOwner {
  return { pid: process.pid, host: os.hostname(), boot: bootId() };
}

function tmpBeside(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Replaces `file` whole (write a temporary file, rename over): a reader sees the old content or the new, never half. */
export function writeFileAtomicSync(file: string, content: string): void {
  const tmp = tmpBeside(file);
  try {
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const tmp = tmpBeside(file);
  try {
    await fs.promises.writeFile(tmp, content, { mode: 0o600 });
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Creates `file` with `content` only if it does not exist yet, complete or not at all. False when it existed. */
export function createExclusive(file: string, content: string): boolean {
  const tmp = tmpBeside(file);
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file); // atomic and exclusive, and the content is already whole when the name appears
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export function parseOwner(text: string): LockOwner | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t) }; // the older format: a bare pid
  try {
    const v = JSON.parse(t) as Partial<LockOwner>;
    if (Number.isInteger(v.pid) && (v.pid as number) > 0) return { pid: v.pid as number, host: typeof v.host === 'string' ? v.host : undefined, boot: typeof v.boot === 'string' ? v.boot : undefined };
  } catch {
    /* unreadable */
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the owner still holds the lock, or undefined when it is gone (same host, and dead or from before a reboot). */
export function ownerHolds(owner: LockOwner): string | undefined {
  const me = thisProcess();
  // another machine or container (a shared volume): its process cannot be checked from here, so it always holds
  if (owner.host !== undefined && owner.host !== me.host) return `locked by process ${owner.pid} on host "${owner.host}"`;
  const rebooted = owner.host === me.host && !!owner.boot && !!me.boot && owner.boot !== me.boot;
  if (!rebooted && owner.pid !== process.pid && alive(owner.pid)) return `in use by process ${owner.pid}`;
  return undefined;
}

/** A takeover marker older than this was left by a process that died during one (a takeover takes microseconds). */
const STALE_MARKER_MS = 30_000;

export type LockAttempt = { held: true; release: () => void } | { held: false; why: string };

/** Locks this process holds: a lock file naming our own pid that is not in here is a previous incarnation's (stale). */
const heldHere = new Set<string>();

/**
 * Takes `lock` (a file holding its owner) without waiting, or says who holds it. A lock whose owner is gone is taken
 * over by one process only: the takeover is guarded by an exclusive marker, so two processes that find the same stale
 * lock cannot both remove it (the second would remove the first one's fresh lock, and both would think they hold it).
 * `staleAfterMs` also treats a lock older than that as stale (for locks held for milliseconds, never for long ones).
 */
export function tryLockFile(lock: string, opts: { staleAfterMs?: number } = {}): LockAttempt {
  const key = path.resolve(lock);
  if (heldHere.has(key)) return { held: false, why: 'held by this process' };
  const mine = `${JSON.stringify(thisProcess())}\n`;
  const took = (): LockAttempt => {
    heldHere.add(key);
    let released = false;
    return {
      held: true,
      release: () => {
        if (released) return;
        released = true;
        heldHere.delete(key);
        // only our own lock: had it been taken over as stuck meanwhile, the file is someone else's now
        try {
          if (fs.readFileSync(lock, 'utf8') === mine) fs.rmSync(lock, { force: true });
        } catch {
          /* already gone */
        }
      },
    };
  };
  if (createExclusive(lock, mine)) return took();
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(lock, 'utf8');
    mtimeMs = fs.statSync(lock).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return createExclusive(lock, mine) ? took() : { held: false, why: 'locked meanwhile' };
  }
  const owner = parseOwner(text);
  const old = opts.staleAfterMs !== undefined && Date.now() - mtimeMs > opts.staleAfterMs;
  const holds = owner ? ownerHolds(owner) : undefined;
  if (holds && !old) return { held: false, why: holds };
  const marker = `${lock}.takeover`;
  if (!createExclusive(marker, mine)) {
    try {
      if (Date.now() - fs.statSync(marker).mtimeMs > STALE_MARKER_MS) fs.rmSync(marker, { force: true });
    } catch {
      /* gone meanwhile */
    }
    return { held: false, why: 'being taken over by another process' };
  }
  try {
    // nobody else removes the lock while we hold the marker; remove it only if it is still the one judged stale
    let now: string | undefined;
    try {
      now = fs.readFileSync(lock, 'utf8');
    } catch {
      now = undefined;
    }
    if (now === text) fs.rmSync(lock, { force: true });
    return createExclusive(lock, mine) ? took() : { held: false, why: 'locked meanwhile' };
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

/** Locks for read-modify-write of a small state file are held for milliseconds: older than this, the holder is stuck. */
const SHORT_LOCK_STALE_MS = 30_000;

/**
 * Runs `fn` holding `<file>.lock` against every other process on this data dir, so two read-modify-write updates of
 * the same file (two `tokens create` at once, say) never lose one. Waits up to `timeoutMs`, then fails naming the lock.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T> | T, opts: { timeoutMs?: number } = {}): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let wait = 2;
  for (;;) {
    const l = tryLockFile(lock, { staleAfterMs: SHORT_LOCK_STALE_MS });
    if (l.held) {
      try {
        return await fn();
      } finally {
        l.release();
      }
    }
    if (Date.now() > deadline) throw new Error(`${file} is being updated by another process (${l.why}); if none is running, delete ${lock}`);
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(50, wait * 2);
  }
}

/** withFileLock for synchronous stores (pins): blocks the thread while it waits, which only contention makes happen. */
export function withFileLockSync<T>(file: string, fn: () => T, opts: { timeoutMs?: number } = {}): T {
  const lock = `${file}.lock`;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let wait = 1;
  for (;;) {
    const l = tryLockFile(lock, { staleAfterMs: SHORT_LOCK_STALE_MS });
    if (l.held) {
      try {
        return fn();
      } finally {
        l.release();
      }
    }
    if (Date.now() > deadline) throw new Error(`${file} is being updated by another process (${l.why}); if none is running, delete ${lock}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    wait = Math.min(20, wait * 2);
  }
}
