// `tollgate audit verify | query | stats | explain | export | triage` for security teams.
import type { Io } from '../io.js';
import * as path from 'node:path';
import type { JournalRecord } from './events.js';
import { compileFilter, computeStats, explainCall, formatStats, parseTime, toCsv, describe, type RecordFilter } from './query.js';
import { parseCommand, usageOf, UsageError } from '../cli-args.js';
import { AUDIT_SPEC } from './cli-spec.js';
import { filesTrail, type AuditTrail } from './verify.js';

export interface AuditCommandOptions {
  dataDir: string;
  /** Where the records are; default the journal files under `<dataDir>/audit`. */
  trail?: AuditTrail;
  reviewer?: { baseURL: string; model: string; apiKey?: string; timeoutMs?: number };
}

type Flags = Record<string, string | boolean | string[] | undefined>;

function timeFlag(flags: Flags, name: string): Date | undefined {
  const v = flags[name];
  if (typeof v !== 'string') return undefined;
  const t = parseTime(v);
  if (!t) throw new UsageError(`--${name}: expected an ISO 8601 time or a span like 30m, 2h, 7d; got "${v}"`, usageOf(AUDIT_SPEC, 'query'));
  return t;
}

function filterFrom(flags: Flags): RecordFilter {
  const s = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  return {
    since: timeFlag(flags, 'since'), until: timeFlag(flags, 'until'), sessionId: s('session'), identity: s('identity'),
    server: s('server'), tool: s('tool'), decision: s('decision'), source: s('source'), event: s('event'), host: s('host'), search: s('search'),
  };
}

type Rec = JournalRecord & Record<string, unknown>;

export async function auditCommand(argv: string[], io: Io, opts: AuditCommandOptions): Promise<number> {
  const out = (s: string) => io.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  const err = (s: string) => io.stderr.write(`tollgate audit: ${s}\n`);
  const trail = opts.trail ?? filesTrail(path.resolve(io.cwd, opts.dataDir, 'audit'));
  const dir = trail.where;
  try {
    const parsed = parseCommand(AUDIT_SPEC, argv);
    if ('help' in parsed) { out(parsed.help); return 0; }
    const { sub: cmd, values: flags, positionals: rest } = parsed;
    const json = flags.json === true;
    const load = async () => (await trail.load()).map((l) => l.record as Rec);

    switch (cmd) {
      case 'verify': {
        const r = await trail.verify();
        if (json) out(JSON.stringify(r));
        else {
          if (r.chains.length === 0) out(`no journal records in ${dir}`);
          for (const t of r.tornTails) out(`torn tail: ${t.file}:${t.line}: ${t.bytes} bytes after the last complete record (a crash mid-write; not a record, left in place as evidence)`);
          if (r.problem) out(`BROKEN${r.chains.length > 1 ? ` (chain ${r.problem.chain})` : ''} at ${r.problem.file}:${r.problem.line}${r.problem.seq !== undefined ? ` (seq ${r.problem.seq})` : ''}: ${r.problem.why}\n${r.records} records before it verified`);
          else if (r.chains.length <= 1) out(`OK: ${r.records} records${inFiles(r.files)}, chain intact through seq ${r.lastSeq}, head ${r.lastHash}`);
          else {
            out(`OK: ${r.records} records${inFiles(r.files)} over ${r.chains.length} chains (one per writer), every chain intact`);
            for (const c of r.chains) out(`  chain ${c.chain}: ${c.records} records${inFiles(c.files)}, intact through seq ${c.lastSeq}, head ${c.lastHash}`);
          }
        }
        return r.ok ? 0 : 1;
      }
      case 'query': {
        const limit = flags.limit === undefined ? undefined : Number(flags.limit);
        if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError(`--limit: expected a positive integer, got "${String(flags.limit)}"`, usageOf(AUDIT_SPEC, 'query'));
        const format = json ? 'jsonl' : (flags.format ?? 'table');
        if (format !== 'table' && format !== 'jsonl' && format !== 'json' && format !== 'csv') throw new UsageError(`--format: expected table, jsonl or csv, got "${String(format)}"`, usageOf(AUDIT_SPEC, 'query'));
        if (json && flags.format !== undefined && flags.format !== 'jsonl' && flags.format !== 'json') throw new UsageError('--json and --format disagree; pass one of them', usageOf(AUDIT_SPEC, 'query'));
        const test = compileFilter(filterFrom(flags));
        let rows = (await load()).filter(test);
        if (limit) rows = rows.slice(-limit);
        if (format === 'jsonl' || format === 'json') { io.stdout.write(rows.map((r) => `${JSON.stringify(r)}\n`).join('')); return 0; }
        if (format === 'csv') { io.stdout.write(toCsv(rows)); return 0; }
        out(table(rows));
        return 0;
      }
      case 'stats': {
        const f = filterFrom(flags);
        const s = computeStats((await load()).filter(compileFilter(f)));
        out(json ? JSON.stringify(s, null, 2) : formatStats(s));
        return 0;
      }
      case 'explain': {
        const callId = rest[0]!;
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
        if (format !== 'jsonl' && format !== 'csv') throw new UsageError(`--format: expected jsonl or csv, got "${String(format)}"`, usageOf(AUDIT_SPEC, 'export'));
        const f: RecordFilter = { since: timeFlag(flags, 'since'), until: timeFlag(flags, 'until') };
        const rows = (await load()).filter(compileFilter(f));
        if (format === 'csv') io.stdout.write(toCsv(rows));
        else for (const r of rows) io.stdout.write(`${JSON.stringify(r)}\n`);
        return 0;
      }
      case 'triage': {
        if (typeof flags.alert !== 'string' || !flags.alert.trim()) throw new UsageError('triage needs --alert TEXT', usageOf(AUDIT_SPEC, 'triage'));
        const windowMinutes = flags.window === undefined ? 30 : Number(flags.window);
        if (!(windowMinutes > 0)) throw new UsageError(`--window: expected minutes > 0, got "${String(flags.window)}"`, usageOf(AUDIT_SPEC, 'triage'));
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
        throw new UsageError(`unknown subcommand "${String(cmd)}"`, usageOf(AUDIT_SPEC));
    }
  } catch (e) {
    if (e instanceof UsageError) { err(`${e.message}\n${e.usage}`); return 2; }
    err((e as Error).message);
    return 1;
  }
}

// Postgres chains have no files
const inFiles = (n: number) => (n ? ` in ${n} file(s)` : '');

function table(rows: Rec[]): string {
  if (!rows.length) return '(no matching records)';
  const head = ['SEQ', 'TIME', 'EVENT', 'SESSION', 'CALL', 'TOOL', 'DETAIL'];
  const cells = rows.map((r) => [String(r.seq), r.time, r.name.replace('tollgate.', ''), r.sessionId ?? '', r.callId ?? '', r.tool ?? '', describe(r)]);
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...cells.map((c) => c[i]!.length))));
  const fmt = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.slice(0, widths[i]).padEnd(widths[i]!))).join('  ');
  return [fmt(head), ...cells.map(fmt)].join('\n');
}
