// Tool-definition pins: a tool whose definition changed since it was approved is not callable (rug-pull defence).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson } from '../audit/index.js';

export interface PinRecord {
  tool: string;
  /** Hash of the approved definition. */
  hash: string;
  approvedAt: string;
  approvedBy: 'first-use' | string;
  /** A changed definition awaiting `tollgate tools approve`. */
  pending?: { hash: string; seenAt: string; definition: PinnedDefinition };
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

const FILE_SAFE = /[^A-Za-z0-9_.-]/g;

/**
 * One file per namespaced tool under `<stateDir>/pins/`, written atomically, so the gateway and the
 * `tollgate tools approve` CLI (another process) never overwrite each other's whole store.
 */
export class PinStore {
  private readonly dir: string;
  private cache = new Map<string, PinRecord>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'pins');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(tool: string): string {
    return join(this.dir, `${tool.replace(FILE_SAFE, '_')}.json`);
  }

  read(tool: string): PinRecord | undefined {
    try {
      const rec = JSON.parse(readFileSync(this.file(tool), 'utf8')) as PinRecord;
      this.cache.set(tool, rec);
      return rec;
    } catch {
      return undefined;
    }
  }

  private write(rec: PinRecord): void {
    const f = this.file(rec.tool);
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
    renameSync(tmp, f);
    this.cache.set(rec.tool, rec);
  }

  /**
   * Checks a live definition against its pin, pinning it on first sight (trust on first use).
   * Returns `changed` when it differs from the approved one; the change is recorded as pending.
   */
  observe(namespaced: string, tool: Tool): PinStatus & { firstSeen?: boolean; newlyChanged?: boolean } {
    const hash = definitionHash(tool);
    let rec = this.cache.get(namespaced);
    if (!rec || rec.hash !== hash) rec = this.read(namespaced); // another process may have approved it
    if (!rec) {
      this.write({ tool: namespaced, hash, approvedAt: new Date().toISOString(), approvedBy: 'first-use', definition: definitionOf(tool) });
      return { state: 'pinned', firstSeen: true };
    }
    if (rec.hash === hash) {
      if (rec.pending) this.write({ ...rec, pending: undefined });
      return { state: 'pinned' };
    }
    const newlyChanged = rec.pending?.hash !== hash;
    if (newlyChanged) this.write({ ...rec, pending: { hash, seenAt: new Date().toISOString(), definition: definitionOf(tool) } });
    return { state: 'changed', previousHash: rec.hash, currentHash: hash, newlyChanged };
  }

  list(): PinRecord[] {
    const out: PinRecord[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as PinRecord);
      } catch {
        /* a file being replaced right now; the next listing shows it */
      }
    }
    return out.sort((a, b) => a.tool.localeCompare(b.tool));
  }

  /** Promotes the pending definition to approved. Throws a user-facing message when there is nothing to approve. */
  approve(namespaced: string, approver: string): PinRecord {
    const rec = this.read(namespaced);
    if (!rec) throw new Error(`no pin for "${namespaced}": the gateway has not seen this tool yet (check the name with \`tollgate tools list\`)`);
    if (!rec.pending) throw new Error(`"${namespaced}" has no changed definition awaiting approval`);
    const next: PinRecord = { tool: namespaced, hash: rec.pending.hash, approvedAt: new Date().toISOString(), approvedBy: approver, definition: rec.pending.definition };
    this.write(next);
    return next;
  }
}
