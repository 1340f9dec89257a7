// `tollgate audit verify | query | stats | explain | export | triage` for security teams.
import type { Io } from '../io.js';
import * as path from 'node:path';
import type { JournalRecord } from './events.js';
import { computeStats, explainCall, formatStats, matches, parseTime, toCsv, describe, type RecordFilter } from './query.js';
import { loadRecords, verifyJournal } from './verify.js';


export interface AuditCommandOptions {
  dataDir: string;
  reviewer?: { baseURL: string; model: string; apiKey?: string; timeoutMs?: number };
}

const USAGE = `usage: tollgate audit <command>
  verify [--json]                         check every journal file and the hash chain
  query [filters] [--json] [--limit N]    list records (filters: --since --until --session --identity
                                          --server --tool --decision --source --event)
  stats [--since T] [--until T] [--json]  sessions, calls, who decided, agreement, network blocks
  explain CALL_ID [--json]                the whole story of one call
  export --format jsonl|csv [--since T] [--until T]
  triage --alert TEXT [--around T] [--window MIN] [--host H] [--json]
times: ISO 8601 (2026-05-01T12:00:00Z) or a span back from now (30m, 2h, 7d)`;

class UsageError extends Error {}

const VALUE_FLAGS = new Set(['since', 'until', 'session', 'identity', 'server', 'tool', 'decision', 'source', 'event', 'limit', 'format', 'alert', 'around', 'window', 'host']);
const BOOL_FLAGS = new Set(['json', 'help']);

function parseArgs(argv: string[]): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    if (BOOL_FLAGS.has(name)) { flags[name] = true; continue; }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
  }
  return { positional, flags };
}

function timeFlag(flags: Record<string, string | true>, name: string): Date | undefined {
  const v = flags[name];
  if (v === undefined || v === true) return undefined;
  const t = parseTime(v);
  if (!t) throw new UsageError(`--${name}: expected an ISO 8601 time or a span like 30m, 2h, 7d; got "${v}"`);
  return t;
}

function filterFrom(flags: Record<string, string | true>): RecordFilter {
  const s = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  return {
    since: timeFlag(flags, 'since'), until: timeFlag(flags, 'until'), sessionId: s('session'), identity: s('identity'),
    server: s('server'), tool: s('tool'), decision: s('decision'), source: s('source'), event: s('event'),
  };
}

type Rec = JournalRecord & Record<string, unknown>;

export async function auditCommand(argv: string[], io: Io, opts: AuditCommandOptions): Promise<number> {
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const err = (s: string) => io.stderr.write(`tollgate audit: ${s}\n`);
  const dir = path.resolve(io.cwd, opts.dataDir, 'audit');
  try {
    const { positional, flags } = parseArgs(argv);
    const [cmd, ...rest] = positional;
    if (!cmd || flags.help) { out(USAGE); return cmd || flags.help ? 0 : 2; }
    const json = flags.json === true;
    const load = async () => (await loadRecords(dir)).map((l) => l.record as Rec);

    switch (cmd) {
      case 'verify': {
        const r = await verifyJournal(dir);
        if (json) out(JSON.stringify(r));
        else {
          if (r.files === 0) out(`no journal files in ${dir}`);
          for (const t of r.tornTails) out(`torn tail: ${t.file}:${t.line}: ${t.bytes} bytes after the last complete record (a crash mid-write; not a record, left in place as evidence)`);
          if (r.problem) out(`BROKEN${r.chains.length > 1 ? ` (chain ${r.problem.chain})` : ''} at ${r.problem.file}:${r.problem.line}${r.problem.seq !== undefined ? ` (seq ${r.problem.seq})` : ''}: ${r.problem.why}\n${r.records} records before it verified`);
          else if (r.chains.length <= 1) out(`OK: ${r.records} records in ${r.files} file(s), chain intact through seq ${r.lastSeq}, head ${r.lastHash}`);
          else {
            out(`OK: ${r.records} records in ${r.files} file(s) over ${r.chains.length} chains (one per writer), every chain intact`);
            for (const c of r.chains) out(`  chain ${c.chain}: ${c.records} records in ${c.files} file(s), intact through seq ${c.lastSeq}, head ${c.lastHash}`);
          }
        }
        return r.ok ? 0 : 1;
      }
      case 'query': {
        const limit = flags.limit === undefined ? undefined : Number(flags.limit);
        if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError(`--limit: expected a positive integer, got "${String(flags.limit)}"`);
        const f = filterFrom(flags);
        let rows = (await load()).filter((r) => matches(r, f));
        if (limit) rows = rows.slice(-limit);
        if (json) { for (const r of rows) out(JSON.stringify(r)); return 0; }
        out(table(rows));
        return 0;
      }
      case 'stats': {
        const f = filterFrom(flags);
        const s = computeStats((await load()).filter((r) => matches(r, f)));
        out(json ? JSON.stringify(s, null, 2) : formatStats(s));
        return 0;
      }
      case 'explain': {
        const callId = rest[0];
        if (!callId) throw new UsageError('explain needs a CALL_ID');
        const all = await load();
        if (json) {
          const steps = all.filter((r) => r.callId === callId);
          if (!steps.length) { err(`no records for call ${callId}`); return 1; }
          out(JSON.stringify(steps));
          return 0;
        }
        const story = explainCall(all, callId);
        if (!story) { err(`no records for call ${callId}`); return 1; }
        out(story);
        return 0;
      }
      case 'export': {
        const format = flags.format ?? 'jsonl';
        if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format: expected jsonl or csv, got "${String(format)}"`);
        const f: RecordFilter = { since: timeFlag(flags, 'since'), until: timeFlag(flags, 'until') };
        const rows = (await load()).filter((r) => matches(r, f));
        if (format === 'csv') io.stdout.write(toCsv(rows));
        else for (const r of rows) io.stdout.write(`${JSON.stringify(r)}\n`);
        return 0;
      }
      case 'triage': {
        if (typeof flags.alert !== 'string' || !flags.alert.trim()) throw new UsageError('triage needs --alert TEXT');
        const windowMinutes = flags.window === undefined ? 30 : Number(flags.window);
        if (!(windowMinutes > 0)) throw new UsageError(`--window: expected minutes > 0, got "${String(flags.window)}"`);
        const { askModel, assembleEvidence } = await import('./triage.js'); // the openai client loads only for triage
        const evidence = assembleEvidence(await load(), {
          alert: flags.alert, around: timeFlag(flags, 'around') ?? new Date(), windowMinutes,
          ...(typeof flags.host === 'string' ? { host: flags.host } : {}),
        });
        if (!opts.reviewer) {
          out(json ? JSON.stringify({ evidence }) : `No reviewer model configured; the evidence:\n\n${evidence.text}`);
          return 0;
        }
        try {
          const verdict = await askModel(evidence, opts.reviewer);
          if (json) out(JSON.stringify({ verdict, evidence }));
          else out(`Classification: ${verdict.classification}\nIntent: ${verdict.intent}\n\n${verdict.explanation}\n\nCited calls: ${verdict.citedCallIds.join(', ') || '(none)'}\n(explain any of them with: tollgate audit explain CALL_ID)`);
          return 0;
        } catch (e) {
          err(`model answer unusable (${(e as Error).message}); the evidence follows`);
          out(evidence.text);
          return 1;
        }
      }
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) { err(`${e.message}\n${USAGE}`); return 2; }
    err((e as Error).message);
    return 1;
  }
}

function table(rows: Rec[]): string {
  if (!rows.length) return '(no matching records)';
  const head = ['SEQ', 'TIME', 'EVENT', 'SESSION', 'CALL', 'TOOL', 'DETAIL'];
  const cells = rows.map((r) => [String(r.seq), r.time, r.name.replace('tollgate.', ''), r.sessionId ?? '', r.callId ?? '', r.tool ?? '', describe(r)]);
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const fmt = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.slice(0, widths[i]).padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...cells.map(fmt)].join('\n');
}
