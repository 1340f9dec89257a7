// Pure reads over loaded records: filters, the story of one call, stats, CSV.
import picomatch from 'picomatch';
import type { JournalRecord } from './events.js';

export interface RecordFilter {
  since?: Date;
  until?: Date;
  sessionId?: string;
  identity?: string;
  server?: string;
  tool?: string;
  decision?: string;
  source?: string;
  event?: string;
  /** Host of a network decision (glob). */
  host?: string;
  /** Case-insensitive free text anywhere in the record's content (arguments, reasons, errors, messages). */
  search?: string;
}

type Rec = JournalRecord & Record<string, unknown>;

/**
 * Compiles a filter once into a predicate: tool, identity, server and host are globs (`fs__read_*`), the session is an
 * id or a prefix of one, the event takes its short name; every filter given must hold.
 */
export function compileFilter(f: RecordFilter): (r: Rec) => boolean {
  const tests: Array<(r: Rec) => boolean> = [];
  const glob = (pattern: string) => {
    const m = picomatch(pattern, { dot: true, nocase: false });
    return (v: unknown) => typeof v === 'string' && m(v);
  };
  if (f.since) { const t0 = f.since.getTime(); tests.push((r) => Date.parse(r.time) >= t0); }
  if (f.until) { const t1 = f.until.getTime(); tests.push((r) => Date.parse(r.time) <= t1); }
  if (f.sessionId) { const p = f.sessionId; tests.push((r) => typeof r.sessionId === 'string' && r.sessionId.startsWith(p)); }
  for (const k of ['identity', 'server', 'tool', 'host'] as const) {
    const pattern = f[k];
    if (pattern) { const m = glob(pattern); tests.push((r) => m(r[k])); }
  }
  if (f.decision) { const d = f.decision; tests.push((r) => r.decision === d); }
  if (f.source) { const s = f.source; tests.push((r) => r.source === s); }
  if (f.event) { const e = f.event; tests.push((r) => r.name === e || r.name === `tollgate.${e}`); }
  if (f.search) {
    const needle = f.search.toLowerCase();
    tests.push((r) => {
      const { seq: _s, prev: _p, hash: _h, time: _t, ...content } = r;
      return JSON.stringify(content).toLowerCase().includes(needle);
    });
  }
  return (r) => tests.every((t) => t(r));
}

export function matches(r: Rec, f: RecordFilter): boolean {
  return compileFilter(f)(r);
}

/** `2026-01-02T03:04:05Z`, `2026-01-02`, or a span back from now: `90s`, `15m`, `2h`, `7d`. */
export function parseTime(text: string, now = Date.now()): Date | undefined {
  const rel = /^(\d+)([smhd])$/.exec(text.trim());
  if (rel) return new Date(now - Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as 's']);
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** One short line per record for tables and evidence. */
export function describe(r: Rec): string {
  const s = (v: unknown) => (v === undefined ? '' : String(v));
  switch (r.name) {
    case 'tollgate.session_start': return `${s(r.transport)} client ${s(r.clientName)} ${s(r.clientVersion)} protocol ${s(r.protocolVersion)}`;
    case 'tollgate.session_end': return `${s(r.reason)} after ${ms(r.durationMs)}, ${s(r.calls)} calls`;
    case 'tollgate.user_prompt': return `prompt ${s(r.length)} chars ${r.text !== undefined ? JSON.stringify(r.text) : '(text not kept)'}`;
    case 'tollgate.tool_call': return `arguments ${clip(JSON.stringify(r.arguments), 160)}`;
    case 'tollgate.policy_decision': return `${s(r.decision)} (mode ${s(r.mode)})${list(' matched', r.matched)}${list(' —', r.reasons)}`;
    case 'tollgate.review': return r.failure
      ? `model ${s(r.model)} FAILED: ${s(r.failure)} after ${ms(r.latencyMs)}`
      : `model ${s(r.model)}: risk ${s(r.riskLevel)}, outcome ${s(r.outcome)}, authorization ${s(r.userAuthorization)}, ${ms(r.latencyMs)}${r.cached ? ' (cached)' : ''}${r.autoApproved ? ', auto-approved' : ''}${r.rationale ? ` — ${clip(s(r.rationale), 200)}` : ''}`;
    case 'tollgate.human_decision': return `${s(r.channel)}: ${s(r.decision)}${r.approver ? ` by ${s(r.approver)}` : ''} after ${ms(r.waitMs)}${r.reason ? ` — ${s(r.reason)}` : ''}`;
    case 'tollgate.tool_decision': return `${String(r.decision).toUpperCase()} by ${s(r.source)}${list(' —', r.reasons)}`;
    case 'tollgate.resource_read':
    case 'tollgate.resource_subscribe':
    case 'tollgate.prompt_get':
    case 'tollgate.completion': return `${s(r.method)} ${s(r.uri ?? r.prompt)} ${String(r.decision).toUpperCase()} by ${s(r.source)}${list(' —', r.reasons)}`;
    case 'tollgate.tool_result': return `${r.success ? 'success' : 'failure'}${r.isError ? ' (isError)' : ''}, ${ms(r.durationMs)}, ${s(r.outputBytes)} bytes${r.error ? ` — ${s(r.error)}` : ''}`;
    case 'tollgate.network_decision': return `${s(r.method)} ${s(r.protocol)}://${s(r.host)}:${s(r.port)} ${s(r.decision)} by ${s(r.source)}${list(' —', r.reasons)}`.trim();
    case 'tollgate.upstream': return `${s(r.event)}${r.retryEverySeconds !== undefined ? ` every ${s(r.retryEverySeconds)} s` : ''}${r.pid !== undefined ? ` pid ${s(r.pid)}` : ''}${r.exitCode != null ? ` exit ${s(r.exitCode)}` : ''}${r.signal ? ` signal ${s(r.signal)}` : ''}${r.repeated ? ` after ${s(r.repeated)} identical` : ''}${r.error ? ` — ${s(r.error)}` : ''}`;
    case 'tollgate.tool_definition_changed': return `definition ${s(r.previousHash).slice(0, 12)} → ${s(r.currentHash).slice(0, 12)}`;
    case 'tollgate.admin_action': return `${s(r.action)} ${s(r.target)} by ${s(r.actor)} (${s(r.channel)})${r.before || r.after ? ` ${s(r.before).slice(0, 19) || '-'} → ${s(r.after).slice(0, 19) || '-'}` : ''}${r.detail ? ` — ${s(r.detail)}` : ''}`;
    case 'tollgate.config_loaded': return `policy ${s(r.policyVersion)} from ${(r.files as string[] | undefined)?.join(', ') ?? ''}${list(' violations', r.violations)}`;
    default: return '';
  }
}

const STEP_LABEL: Record<string, string> = {
  'tollgate.tool_call': 'request', 'tollgate.policy_decision': 'policy', 'tollgate.review': 'review',
  'tollgate.human_decision': 'human', 'tollgate.tool_decision': 'decision', 'tollgate.network_decision': 'network',
  'tollgate.tool_result': 'result', 'tollgate.resource_read': 'decision', 'tollgate.resource_subscribe': 'decision',
  'tollgate.prompt_get': 'decision', 'tollgate.completion': 'decision',
};
/** Final-decision events: tools/call's, and those of the other requests that reach an upstream. */
const FINAL = new Set(['tollgate.tool_decision', 'tollgate.resource_read', 'tollgate.resource_subscribe', 'tollgate.prompt_get', 'tollgate.completion']);

/** The story of one call in journal order: request → policy → review → human → decision → result. */
export function explainCall(records: Rec[], callId: string): string | undefined {
  const steps = records.filter((r) => r.callId === callId);
  if (!steps.length) return undefined;
  const first = steps[0]!;
  const what = first.method && first.method !== 'tools/call' ? `${String(first.method)} ${first.tool ?? '?'}` : (first.tool ?? '?');
  const lines = [`Call ${callId} — ${what} on server ${first.server ?? '?'}, session ${first.sessionId ?? '?'}, identity ${first.identity ?? '?'}`];
  for (const r of steps) {
    lines.push(`  ${r.time}  #${r.seq}  ${(STEP_LABEL[r.name] ?? r.name.replace('tollgate.', '')).padEnd(8)}  ${describe(r)}`);
  }
  const final = steps.filter((r) => FINAL.has(r.name)).at(-1);
  const result = steps.find((r) => r.name === 'tollgate.tool_result');
  lines.push(final
    ? `Outcome: ${String(final.decision)} by ${String(final.source)}${result ? `; ${result.success ? 'ran successfully' : 'ran and failed'}` : final.decision === 'approved' ? '; no result recorded' : ''}`
    : 'Outcome: no final decision recorded (the gateway may have stopped mid-call)');
  return lines.join('\n');
}

export interface Stats {
  sessions: number;
  calls: number;
  callsByServer: Record<string, number>;
  callsByTool: Record<string, number>;
  decisions: Record<string, number>;
  policy: Record<string, number>;
  ruleAllowed: number;
  reviewerApproved: number;
  reviewerFailures: Record<string, number>;
  humansAsked: number;
  humanDecisions: Record<string, number>;
  denied: number;
  reviewerHumanAgreement: { both: number; agreed: number; rate: number | null };
  network: { allowed: number; blocked: number; prompted: number; blockedHosts: Record<string, number> };
  results: { ok: number; failed: number };
}

export function computeStats(records: Rec[]): Stats {
  const inc = (o: Record<string, number>, k: unknown) => { const key = String(k ?? '?'); o[key] = (o[key] ?? 0) + 1; };
  const st: Stats = {
    sessions: 0, calls: 0, callsByServer: {}, callsByTool: {}, decisions: {}, policy: {}, ruleAllowed: 0,
    reviewerApproved: 0, reviewerFailures: {}, humansAsked: 0, humanDecisions: {}, denied: 0,
    reviewerHumanAgreement: { both: 0, agreed: 0, rate: null },
    network: { allowed: 0, blocked: 0, prompted: 0, blockedHosts: {} }, results: { ok: 0, failed: 0 },
  };
  const reviewOutcome = new Map<string, string>();
  for (const r of records) {
    switch (r.name) {
      case 'tollgate.session_start': st.sessions++; break;
      case 'tollgate.tool_call': st.calls++; inc(st.callsByServer, r.server); inc(st.callsByTool, r.tool); break;
      case 'tollgate.policy_decision': inc(st.policy, r.decision); break;
      case 'tollgate.review':
        if (r.failure) inc(st.reviewerFailures, r.failure);
        else if (r.callId && r.outcome) reviewOutcome.set(r.callId, String(r.outcome));
        break;
      case 'tollgate.human_decision': {
        // the client answering its own elicitation is not a person being asked
        if (r.channel !== 'none' && r.answeredBy !== 'client') st.humansAsked++;
        inc(st.humanDecisions, r.decision);
        const said = r.callId ? reviewOutcome.get(r.callId) : undefined;
        const human = String(r.decision).startsWith('approve') ? 'allow' : r.decision === 'deny' ? 'deny' : undefined;
        if (said && human) {
          st.reviewerHumanAgreement.both++;
          if (said === human) st.reviewerHumanAgreement.agreed++;
        }
        break;
      }
      case 'tollgate.tool_decision':
        inc(st.decisions, `${String(r.decision)}:${String(r.source)}`);
        if (r.decision === 'denied') st.denied++;
        else if (r.source === 'rule') st.ruleAllowed++;
        else if (r.source === 'automated_reviewer') st.reviewerApproved++;
        break;
      case 'tollgate.tool_result': if (r.success) st.results.ok++; else st.results.failed++; break;
      case 'tollgate.network_decision':
        if (r.decision === 'allow') st.network.allowed++;
        else if (r.decision === 'ask') st.network.prompted++;
        else { st.network.blocked++; inc(st.network.blockedHosts, r.host); }
        break;
    }
  }
  const a = st.reviewerHumanAgreement;
  a.rate = a.both ? a.agreed / a.both : null;
  return st;
}

export function formatStats(s: Stats): string {
  const top = (o: Record<string, number>) => Object.entries(o).sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => `    ${k}: ${v}`).join('\n') || '    (none)';
  const a = s.reviewerHumanAgreement;
  return [
    `sessions: ${s.sessions}`,
    `calls: ${s.calls}`,
    `  by server:\n${top(s.callsByServer)}`,
    `  by tool:\n${top(s.callsByTool)}`,
    `policy decisions: ${Object.entries(s.policy).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `allowed by rules: ${s.ruleAllowed}`,
    `approved by the reviewer: ${s.reviewerApproved}`,
    `reviewer failures: ${Object.entries(s.reviewerFailures).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `humans asked: ${s.humansAsked} (${Object.entries(s.humanDecisions).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`,
    `denied: ${s.denied}`,
    `reviewer–human agreement: ${a.rate === null ? 'n/a (no call had both)' : `${a.agreed}/${a.both} (${Math.round(a.rate * 100)}%)`}`,
    `network: ${s.network.allowed} allowed, ${s.network.blocked} blocked, ${s.network.prompted} prompted`,
    `  blocked hosts:\n${top(s.network.blockedHosts)}`,
    `results: ${s.results.ok} ok, ${s.results.failed} failed`,
  ].join('\n');
}

const CSV_COLUMNS = ['seq', 'time', 'name', 'sessionId', 'callId', 'identity', 'server', 'tool', 'method', 'decision', 'source', 'summary', 'hash'];

export function toCsv(records: Rec[]): string {
  const cell = (v: unknown) => {
    const t = v === undefined || v === null ? '' : String(v);
    // a leading = + - @ would run as a formula in a spreadsheet
    const safe = /^[=+\-@\t\r]/.test(t) ? `'${t}` : t;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows = records.map((r) => CSV_COLUMNS.map((c) => cell(c === 'summary' ? describe(r) : r[c])).join(','));
  return `${CSV_COLUMNS.join(',')}\n${rows.join('\n')}${rows.length ? '\n' : ''}`;
}

function ms(v: unknown): string {
  const n = Number(v);
  return n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`;
}
function list(label: string, v: unknown): string {
  return Array.isArray(v) && v.length ? `${label} ${v.join('; ')}` : '';
}
function clip(s: string | undefined, n: number): string {
  if (s === undefined) return '';
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
