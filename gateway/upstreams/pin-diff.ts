// What changed between a tool's approved definition and the one it now presents, field by field: what a person reads
// before re-approving it. Strings are diffed by words (descriptions carry injected instructions), schemas by path.
import { diffWordsWithSpace } from 'diff';
import type { PinnedDefinition } from './pins.js';

export type TextPart = { op: '+' | '-' | '='; text: string };
export type DefinitionChange =
  | { path: string; kind: 'added'; after: unknown }
  | { path: string; kind: 'removed'; before: unknown }
  | { path: string; kind: 'changed'; before: unknown; after: unknown; text?: TextPart[] };

const FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'annotations'] as const;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function walk(path: string, before: unknown, after: unknown, out: DefinitionChange[]): void {
  if (same(before, after)) return;
  if (before === undefined) return void out.push({ path, kind: 'added', after });
  if (after === undefined) return void out.push({ path, kind: 'removed', before });
  if (isObject(before) && isObject(after)) {
    for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) walk(`${path}.${k}`, before[k], after[k], out);
    return;
  }
  if (typeof before === 'string' && typeof after === 'string') {
    const text = diffWordsWithSpace(before, after).map((p): TextPart => ({ op: p.added ? '+' : p.removed ? '-' : '=', text: p.value }));
    return void out.push({ path, kind: 'changed', before, after, text });
  }
  out.push({ path, kind: 'changed', before, after });
}

/** Every difference, by path (`description`, `inputSchema.properties.path.description`, …), in a stable order. */
export function diffDefinitions(approved: PinnedDefinition, pending: PinnedDefinition): DefinitionChange[] {
  const out: DefinitionChange[] = [];
  for (const f of FIELDS) walk(f, approved[f], pending[f], out);
  return out;
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));

/** The diff for a terminal: `+`/`-`/`~` per path; a changed string shows its words as [-removed-]{+added+}. */
export function formatDefinitionDiff(changes: DefinitionChange[]): string {
  if (!changes.length) return '  (no difference in what the agent reads)\n';
  return changes
    .map((c) => {
      if (c.kind === 'added') return `  + ${c.path}: ${show(c.after)}\n`;
      if (c.kind === 'removed') return `  - ${c.path}: ${show(c.before)}\n`;
      if (c.text) return `  ~ ${c.path}: ${c.text.map((p) => (p.op === '=' ? p.text : p.op === '+' ? `{+${p.text}+}` : `[-${p.text}-]`)).join('')}\n`;
      return `  ~ ${c.path}: ${show(c.before)} -> ${show(c.after)}\n`;
    })
    .join('');
}
