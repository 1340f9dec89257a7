// The hash chain: canonical JSON and the sha256 link between consecutive journal records.
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted at every level and no whitespace: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const parts: string[] = [];
  for (const k of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The hash of a record is over its canonical JSON without the `hash` field (but with `prev`). */
export function recordHash(record: Record<string, unknown>): string {
  const { hash: _omit, ...rest } = record;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * Seals a record: its hash (as recordHash computes it) and its canonical JSON line, with one
 * serialisation of the fields instead of two (this runs for every journal record).
 */
export function sealRecord(record: Record<string, unknown>): { hash: string; line: string } {
  const parts: Array<[string, string]> = [];
  for (const k of Object.keys(record).sort()) {
    const v = record[k];
    if (k === 'hash' || v === undefined) continue;
    parts.push([k, `${JSON.stringify(k)}:${canonicalJson(v)}`]);
  }
  const hash = createHash('sha256').update(`{${parts.map((p) => p[1]).join(',')}}`).digest('hex');
  let at = parts.findIndex(([k]) => k > 'hash');
  if (at < 0) at = parts.length;
  parts.splice(at, 0, ['hash', `"hash":${JSON.stringify(hash)}`]);
  return { hash, line: `{${parts.map((p) => p[1]).join(',')}}` };
}

export function sha256Digest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
