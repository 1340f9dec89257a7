// The audit trail as the console reads it: cached journal loads, the decision mix over time.
import { join } from 'node:path';
import type { JournalRecord } from '../audit/index.js';
// query/verify are the audit folder's read side; its index does not re-export them yet
import { filesTrail, type AuditTrail } from '../audit/verify.js';
import type { Bucket } from './charts.js';

export type Rec = JournalRecord & Record<string, unknown>;

/** Re-reads the journal only when a file of any chain changed (size or mtime); every writer's chain is shown. */
export function trailReader(dataDir: string, trail: AuditTrail = filesTrail(join(dataDir, 'audit'))) {
  let cached: { key: string; records: Rec[] } | undefined;
  const signature = () => trail.signature();
  return async function records(): Promise<Rec[]> {
    const key = await signature();
    if (cached?.key === key) return cached.records;
    let records: Rec[] = [];
    try {
      records = (await trail.load()).map((l) => l.record as Rec);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    cached = { key, records };
    return records;
  };
}

/** How a final decision is grouped in the "decision mix" chart. */
export function mixKey(r: Rec): string {
  if (r.decision === 'denied') return 'denied';
  switch (r.source) {
    case 'rule': return 'rule';
    case 'automated_reviewer': return 'reviewer';
    case 'user': return 'person';
    case 'grant': return 'grant';
    default: return 'other';
  }
}

const STEPS = [60_000, 5 * 60_000, 15 * 60_000, 3600_000, 3 * 3600_000, 6 * 3600_000, 86400_000, 7 * 86400_000];

/** Splits [from, to] into at most `max` equal, round-sized buckets and counts final decisions in each. */
export function decisionMix(records: Rec[], from: number, to: number, max = 24): Bucket[] {
  const span = Math.max(60_000, to - from);
  const step = STEPS.find((s) => span / s <= max) ?? STEPS.at(-1)!;
  const start = Math.floor(from / step) * step;
  const n = Math.max(1, Math.ceil((to - start) / step));
  const buckets: Bucket[] = Array.from({ length: n }, (_, i) => {
    const t = new Date(start + i * step);
    const iso = t.toISOString();
    const label = step >= 86400_000 ? iso.slice(5, 10) : iso.slice(11, 16);
    return { label, title: `${iso.slice(0, 16).replace('T', ' ')} UTC`, counts: {} };
  });
  for (const r of records) {
    if (r.name !== 'tollgate.tool_decision') continue;
    const i = Math.floor((Date.parse(r.time) - start) / step);
    const b = buckets[i];
    if (!b) continue;
    const k = mixKey(r);
    b.counts[k] = (b.counts[k] ?? 0) + 1;
  }
  return buckets;
}
