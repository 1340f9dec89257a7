// Tool-definition pins: a tool whose definition changed since it was approved is not callable (rug-pull defence).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson } from '../audit/index.js';
import { createExclusive, withFileLockSync, writeFileAtomicSync } from '../state/index.js';

export interface PinRecord {
  tool: string;
  /** Hash of the approved definition. */
  hash: string;
  approvedAt: string;
  approvedBy: 'first-use' | string;
  /**
   * A changed definition awaiting `tollgate tools approve`; `rejected` once a person decided to keep it blocked
   * (it stays refused; a definition that changes again is a new pending change to review).
   */
  pending?: { hash: string; seenAt: string; definition: PinnedDefinition; rejected?: { by: string; at: string } };
  definition: PinnedDefinition;
}
export interface PinnedDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}
export type PinStatus = { state: 'pinned' } | { state: 'changed'; previousHash: string; currentHash: string };
export type PinObservation = PinStatus & { firstSeen?: boolean; newlyChanged?: boolean };

/**
 * Where pins live: files in one config's state dir (PinStore), or the shared database (storage kind postgres), so an
 * approval through any replica's config counts on every replica. Either may answer synchronously or with a promise.
 */
export interface PinBook {
  /** Checks a live definition against its pin (pinning it on first sight). Fails closed: throws when it cannot tell. */
  observe(namespaced: string, tool: Tool): PinObservation | Promise<PinObservation>;
  /** For listings (synchronous): the approved definition when the live one differs from it, else undefined. */
  approvedDefinition(namespaced: string, tool: Tool): PinnedDefinition | undefined;
  read(tool: string): PinRecord | undefined | Promise<PinRecord | undefined>;
  list(): PinRecord[] | Promise<PinRecord[]>;
  approve(namespaced: string, approver: string, expectedHash?: string): PinRecord | Promise<PinRecord>;
  reject(namespaced: string, by: string, expectedHash?: string): PinRecord | Promise<PinRecord>;
  /** Called with a tool's name when its pin changed in another process (postgres); lets listings be refreshed. */
  onChange?(listener: (tool: string) => void): void;
  close?(): Promise<void>;
}

/** The pin after a person approved its pending definition; throws a user-facing message when that is not possible. */
export function approvedPin(namespaced: string, rec: PinRecord | undefined, approver: string, expectedHash?: string): PinRecord {
  if (!rec) throw new Error(`no pin for "${namespaced}": the gateway has not seen this tool yet (check the name with \`tollgate tools list\`)`);
  if (!rec.pending) throw new Error(`"${namespaced}" has no changed definition awaiting approval`);
  if (expectedHash !== undefined && rec.pending.hash !== expectedHash) {
    throw new Error(`the definition of "${namespaced}" changed again since it was shown (now ${rec.pending.hash.slice(0, 12)}); review the new one before approving it`);
  }
  return { tool: namespaced, hash: rec.pending.hash, approvedAt: new Date().toISOString(), approvedBy: approver, definition: rec.pending.definition };
}

/** The pin after a person kept its pending definition blocked; throws a user-facing message when that is not possible. */
export function rejectedPin(namespaced: string, rec: PinRecord | undefined, by: string, expectedHash?: string): PinRecord {
  if (!rec) throw new Error(`no pin for "${namespaced}": the gateway has not seen this tool yet (check the name with \`tollgate tools list\`)`);
  if (!rec.pending) throw new Error(`"${namespaced}" has no changed definition awaiting a decision`);
  if (expectedHash !== undefined && rec.pending.hash !== expectedHash) {
    throw new Error(`the definition of "${namespaced}" changed again since it was shown (now ${rec.pending.hash.slice(0, 12)}); review the new one first`);
  }
  return { ...rec, pending: { ...rec.pending, rejected: { by, at: new Date().toISOString() } } };
}

/** The pin with a newly seen definition recorded as pending, or undefined when the pin already knows that definition. */
export function withPending(rec: PinRecord, tool: Tool): PinRecord | undefined {
  const hash = definitionHash(tool);
  if (rec.hash === hash || rec.pending?.hash === hash) return undefined;
  return { ...rec, pending: { hash, seenAt: new Date().toISOString(), definition: definitionOf(tool) } };
}

/** A first pin: trust on first use. */
export function firstPin(namespaced: string, tool: Tool): PinRecord {
  return { tool: namespaced, hash: definitionHash(tool), approvedAt: new Date().toISOString(), approvedBy: 'first-use', definition: definitionOf(tool) };
}


/** Everything the agent's model reads about a tool is pinned, output schema and title included. */
export function definitionOf(tool: Tool): PinnedDefinition {
  return { name: tool.name, title: tool.title, description: tool.description, inputSchema: tool.inputSchema, outputSchema: tool.outputSchema, annotations: tool.annotations };
}

/** Tool objects are replaced, never mutated, when a listing changes: their hash can be cached per object. */
const hashes = new WeakMap<Tool, string>();

export function definitionHash(tool: Tool): string {
  let h = hashes.get(tool);
  if (!h) hashes.set(tool, (h = createHash('sha256').update(canonicalJson(definitionOf(tool))).digest('hex')));
  return h;
}

// Upper-case letters are escaped too: on a case-insensitive file system (macOS by default) `fx__Run` and `fx__run`
// must not share a file.
const FILE_UNSAFE = /[^a-z0-9_.-]/g;
const LEGACY_UNSAFE = /[^A-Za-z0-9_.-]/g;

/**
 * One file per namespaced tool under `<stateDir>/pins/`, written atomically, so the gateway and the
 * `tollgate tools approve` CLI (another process) never overwrite each other's whole store. Every check looks at the
 * file's change time first, so an approval made by another process counts at once and is never written over.
 */
export class PinStore implements PinBook {
  private readonly dir: string;
  private cache = new Map<string, { rec: PinRecord; stamp: string }>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'pins');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** `%XX` for every character outside [a-z0-9_.-] (`%` and upper case included): distinct tools never share a file. */
  private file(tool: string): string {
    return join(this.dir, `${tool.replace(FILE_UNSAFE, (c) => [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''))}.json`);
  }

  /** Where versions before the escaping above kept a pin (`_` for every unsafe character); read, never written. */
  private legacyFile(tool: string): string {
    return join(this.dir, `${tool.replace(LEGACY_UNSAFE, '_')}.json`);
  }

  read(tool: string): PinRecord | undefined {
    for (const f of new Set([this.file(tool), this.legacyFile(tool)])) {
      try {
        const stamp = stampOf(f);
        const rec = JSON.parse(readFileSync(f, 'utf8')) as PinRecord;
        if (rec.tool !== tool) continue; // a legacy file of another tool that mapped to the same name
        this.cache.set(tool, { rec, stamp: f === this.file(tool) ? stamp : '' });
        return rec;
      } catch {
        /* missing or being replaced: try the next, or there is no pin */
      }
    }
    this.cache.delete(tool);
    return undefined;
  }

  /**
   * The pin as it is on disk now: the cached copy while the file is unchanged, a fresh read otherwise. Unchanged means
   * same inode, size and change time: every write is a rename (a new inode), so coarse timestamps cannot hide one.
   */
  private current(tool: string): PinRecord | undefined {
    const cached = this.cache.get(tool);
    if (cached) {
      try {
        if (stampOf(this.file(tool)) === cached.stamp) return cached.rec;
      } catch {
        /* gone or legacy: read below */
      }
    }
    return this.read(tool);
  }

  /** Writes a first pin only if the tool has none yet (exclusive creation); false when another process was first. */
  private createFirst(rec: PinRecord): boolean {
    const f = this.file(rec.tool);
    if (!createExclusive(f, JSON.stringify(rec, null, 2))) return false;
    this.cache.set(rec.tool, { rec, stamp: stampOf(f) });
    return true;
  }

  private write(rec: PinRecord): void {
    const f = this.file(rec.tool);
    // The file may be another tool's pin under the legacy naming (`a:b` kept as `a_b.json`): move it to its own name
    // first, so this tool's pin does not erase it.
    try {
      const other = JSON.parse(readFileSync(f, 'utf8')) as PinRecord;
      if (typeof other.tool === 'string' && other.tool !== rec.tool && this.file(other.tool) !== f) writeAtomic(this.file(other.tool), other);
    } catch {
      /* no file yet, or unreadable: nothing to keep */
    }
    writeAtomic(f, rec);
    this.cache.set(rec.tool, { rec, stamp: stampOf(f) });
  }

  /**
   * Checks a live definition against its pin, pinning it on first sight (trust on first use).
   * Returns `changed` when it differs from the approved one; the change is recorded as pending. Seeing the approved
   * definition again (an older process still serving it) leaves a pending change alone.
   */
  observe(namespaced: string, tool: Tool): PinObservation {
    const hash = definitionHash(tool);
    let rec = this.current(namespaced);
    if (!rec) {
      // Trust on first use, once: when several gateway processes see a new tool at the same moment, the first pin
      // written wins and every other process checks its definition against that one.
      const first: PinRecord = { tool: namespaced, hash, approvedAt: new Date().toISOString(), approvedBy: 'first-use', definition: definitionOf(tool) };
      if (this.createFirst(first)) return { state: 'pinned', firstSeen: true };
      rec = this.read(namespaced);
      if (!rec) {
        // the file is another tool's pin under the legacy naming: write() moves it to its own name first
        this.write(first);
        return { state: 'pinned', firstSeen: true };
      }
    }
    if (rec.hash === hash) return { state: 'pinned' };
    if (rec.pending?.hash === hash) return { state: 'changed', previousHash: rec.hash, currentHash: hash, newlyChanged: false };
    // recorded under the lock that approve() takes, so an approval and a newly seen change never overwrite each other
    let wrote = false;
    const seen = withFileLockSync(this.file(namespaced), () => {
      const now = this.read(namespaced) ?? rec;
      if (now.hash === hash || now.pending?.hash === hash) return now;
      const next = { ...now, pending: { hash, seenAt: new Date().toISOString(), definition: definitionOf(tool) } };
      this.write(next);
      wrote = true;
      return next;
    });
    if (seen.hash === hash) return { state: 'pinned' };
    return { state: 'changed', previousHash: seen.hash, currentHash: hash, newlyChanged: wrote };
  }

  /**
   * What the agent may read about a tool: undefined when the live definition is the approved one; the approved
   * definition when it changed and awaits re-approval (the changed text, e.g. injected instructions, is not shown).
   */
  approvedDefinition(namespaced: string, tool: Tool): PinnedDefinition | undefined {
    const hash = definitionHash(tool);
    const rec = this.current(namespaced);
    return rec && rec.hash !== hash ? rec.definition : undefined;
  }

  list(): PinRecord[] {
    const byTool = new Map<string, PinRecord>();
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as PinRecord;
        // a pin kept under its legacy name and rewritten under the current one: the current file wins
        if (!byTool.has(rec.tool) || join(this.dir, f) === this.file(rec.tool)) byTool.set(rec.tool, rec);
      } catch {
        /* a file being replaced right now; the next listing shows it */
      }
    }
    return [...byTool.values()].sort((a, b) => a.tool.localeCompare(b.tool));
  }

  /**
   * Promotes the pending definition to approved. With `expectedHash` (what the admin was shown), refuses when the
   * definition changed again since. Throws a user-facing message when there is nothing to approve.
   */
  approve(namespaced: string, approver: string, expectedHash?: string): PinRecord {
    return withFileLockSync(this.file(namespaced), () => this.approveLocked(namespaced, approver, expectedHash));
  }

  private approveLocked(namespaced: string, approver: string, expectedHash?: string): PinRecord {
    const next = approvedPin(namespaced, this.read(namespaced), approver, expectedHash);
    this.write(next);
    return next;
  }

  /** Writes a pin as given (`tollgate storage export`), under the same lock as approve(). */
  put(rec: PinRecord): void {
    withFileLockSync(this.file(rec.tool), () => this.write(rec));
  }

  /**
   * Keeps a changed definition blocked, on a person's decision: calls stay refused and the change no longer awaits
   * review. With expectedHash, only the definition that was shown is rejected.
   */
  reject(namespaced: string, by: string, expectedHash?: string): PinRecord {
    return withFileLockSync(this.file(namespaced), () => {
      const next = rejectedPin(namespaced, this.read(namespaced), by, expectedHash);
      this.write(next);
      return next;
    });
  }
}

function writeAtomic(file: string, rec: PinRecord): void {
  writeFileAtomicSync(file, JSON.stringify(rec, null, 2));
}

function stampOf(file: string): string {
  const st = statSync(file);
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}
