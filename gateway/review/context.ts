// Recent context of one agent session, turned into a bounded, redacted view for the reviewer.
import { redactText, redactValue } from './redact.js';

export type ContextEntry =
  | { kind: 'user_prompt'; text: string; truncated: boolean }
  | { kind: 'tool_call'; callId: string; tool: string; text: string; truncated: boolean }
  | { kind: 'tool_result'; callId: string; tool: string; isError: boolean; text: string; truncated: boolean };

/** What the reviewer is shown about the session; oldest first; every string already redacted and capped. */
export interface ReviewerContext {
  userIntent: ContextEntry[];
  toolTraffic: ContextEntry[];
  /** Entries left out because their budget was spent (older ones go first). */
  omitted: { userIntent: number; toolTraffic: number };
}

export interface ContextBudgets {
  /** Budget for the user's requests (intent). */
  intentTokens: number;
  /** Budget for previous tool calls and results. */
  toolTokens: number;
  /** Cap for any single entry; longer entries keep head and tail around an omission marker. */
  perEntryTokens: number;
}

// A rough, dependency-free estimate that errs towards overcounting for code and JSON.
const CHARS_PER_TOKEN = 3.5;
export const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

/** Keeps head and tail of `text` within `maxTokens`, with an explicit marker saying how much was left out. Pure. */
export function truncateMiddle(text: string, maxTokens: number): { text: string; truncated: boolean } {
  const maxChars = Math.max(0, Math.floor(maxTokens * CHARS_PER_TOKEN));
  if (text.length <= maxChars) return { text, truncated: false };
  const marker = (n: number) => `\n[… ${n} characters omitted by Tollgate …]\n`;
  const room = Math.max(0, maxChars - marker(text.length).length);
  const head = Math.ceil(room * 0.6);
  const tail = room - head;
  const omitted = text.length - head - tail;
  return { text: text.slice(0, head) + marker(omitted) + (tail > 0 ? text.slice(text.length - tail) : ''), truncated: true };
}

type Recorded =
  | { kind: 'user_prompt'; text: string }
  | { kind: 'tool_call'; callId: string; tool: string; args: Record<string, unknown> }
  | { kind: 'tool_result'; callId: string; tool: string; summary: string; isError: boolean };

export interface SessionContextOptions {
  /** Ring size: older records are forgotten (default 200). */
  maxRecords?: number;
}

/** One per agent session: the integrator records prompts, calls and results; the reviewer reads `build()`. */
export class SessionContext {
  readonly #records: Recorded[] = [];
  readonly #toolByCall = new Map<string, string>();
  readonly #max: number;

  constructor(opts: SessionContextOptions = {}) {
    this.#max = opts.maxRecords ?? 200;
  }

  recordUserPrompt(text: string): void {
    this.#push({ kind: 'user_prompt', text });
  }

  latestUserPrompt(): string | undefined {
    for (let i = this.#records.length - 1; i >= 0; i--) {
      const r = this.#records[i]!;
      if (r.kind === 'user_prompt') return r.text;
    }
    return undefined;
  }

  recordCall(callId: string, tool: string, args: Record<string, unknown>): void {
    this.#toolByCall.set(callId, tool);
    this.#push({ kind: 'tool_call', callId, tool, args });
  }

  recordResult(callId: string, resultSummary: string, isError: boolean): void {
    this.#push({ kind: 'tool_result', callId, tool: this.#toolByCall.get(callId) ?? 'unknown', summary: resultSummary, isError });
  }

  /** Redacted, budgeted view; newest entries are kept first, returned oldest first. Pure over the records. */
  build(budgets: ContextBudgets): ReviewerContext {
    const intent = this.#records.filter((r) => r.kind === 'user_prompt');
    const tools = this.#records.filter((r) => r.kind !== 'user_prompt');
    const a = fit(intent, budgets.intentTokens, budgets.perEntryTokens);
    const b = fit(tools, budgets.toolTokens, budgets.perEntryTokens);
    return { userIntent: a.kept, toolTraffic: b.kept, omitted: { userIntent: a.omitted, toolTraffic: b.omitted } };
  }

  #push(r: Recorded): void {
    this.#records.push(r);
    if (this.#records.length > this.#max) {
      const dropped = this.#records.shift();
      if (dropped && dropped.kind !== 'user_prompt') this.#toolByCall.delete(dropped.callId);
    }
  }
}

function toEntry(r: Recorded, perEntryTokens: number): ContextEntry {
  // Redact before truncating so a cut can never expose half a secret.
  switch (r.kind) {
    case 'user_prompt': {
      const t = truncateMiddle(redactText(r.text), perEntryTokens);
      return { kind: 'user_prompt', text: t.text, truncated: t.truncated };
    }
    case 'tool_call': {
      const t = truncateMiddle(JSON.stringify(redactValue(r.args)) ?? '{}', perEntryTokens);
      return { kind: 'tool_call', callId: r.callId, tool: r.tool, text: t.text, truncated: t.truncated };
    }
    case 'tool_result': {
      const t = truncateMiddle(redactText(r.summary), perEntryTokens);
      return { kind: 'tool_result', callId: r.callId, tool: r.tool, isError: r.isError, text: t.text, truncated: t.truncated };
    }
  }
}

function fit(records: Recorded[], budgetTokens: number, perEntryTokens: number): { kept: ContextEntry[]; omitted: number } {
  const kept: ContextEntry[] = [];
  let used = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    const entry = toEntry(records[i]!, perEntryTokens);
    const cost = estimateTokens(entry.text) + 8; // framing overhead per entry
    if (used + cost > budgetTokens) return { kept: kept.reverse(), omitted: i + 1 };
    used += cost;
    kept.push(entry);
  }
  return { kept: kept.reverse(), omitted: 0 };
}
