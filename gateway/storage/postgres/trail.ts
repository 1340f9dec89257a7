// Reading the trail back from Postgres: every chain verified on its own (the files verifier's checks), all merged.
import type pg from 'pg';
import { JournalRecordSchema, type JournalRecord } from '../../audit/events.js';
import { safeJson } from '../../audit/journal.js';
import { GENESIS } from '../../audit/chain.js';
import { chainChecker, combineReports, mergeByTime, type AuditTrail, type ChainReport, type LoadedRecord } from '../../audit/verify.js';

const PAGE = 5000;

/** A chain's lines in seq order, a page at a time (a chain may hold millions of records). */
async function* chainLines(pool: pg.Pool, chain: string): AsyncGenerator<{ seq: number; line: string }> {
  let after = 0;
  for (;;) {
    const r = await pool.query<{ seq: string; line: string }>('SELECT seq, line FROM tollgate.audit_records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3', [chain, after, PAGE]);
    for (const row of r.rows) yield { seq: Number(row.seq), line: row.line };
    if (r.rows.length < PAGE) return;
    after = Number(r.rows.at(-1)!.seq);
  }
}

async function chainIds(pool: pg.Pool): Promise<string[]> {
  // chains without a record yet (a writer that just started) are not chains a reader can check
  const r = await pool.query<{ id: string }>('SELECT c.id FROM tollgate.audit_chains c WHERE EXISTS (SELECT 1 FROM tollgate.audit_records r WHERE r.chain = c.id) ORDER BY c.id');
  return r.rows.map((x) => x.id);
}

async function verifyPgChain(pool: pg.Pool, chain: string): Promise<ChainReport> {
  const report: ChainReport = { chain, ok: true, files: 0, records: 0, lastSeq: 0, lastHash: GENESIS, tornTails: [] };
  const checker = chainChecker();
  let row = 0;
  for await (const { seq, line } of chainLines(pool, chain)) {
    row += 1;
    const bad = checker.check(line);
    // the row's own seq column must agree with the record it holds, or a reader's order could be rearranged
    const moved = !bad && checker.lastSeq !== seq ? { why: `the row stored as seq ${seq} holds the record of seq ${checker.lastSeq}`, seq } : undefined;
    const problem = bad ?? moved;
    if (problem) {
      report.ok = false;
      report.problem = { file: `postgres chain ${chain}`, line: row, why: problem.why, ...(problem.seq !== undefined ? { seq: problem.seq } : {}), chain };
      break;
    }
    report.records += 1;
  }
  report.lastSeq = checker.lastSeq;
  report.lastHash = checker.lastHash;
  return report;
}

async function loadPgChain(pool: pg.Pool, chain: string): Promise<LoadedRecord[]> {
  const out: LoadedRecord[] = [];
  for await (const { seq, line } of chainLines(pool, chain)) {
    const raw = safeJson(line);
    if (JournalRecordSchema.safeParse(raw).success) out.push({ record: raw as JournalRecord, file: `postgres chain ${chain}`, line: seq, chain });
  }
  return out;
}

/** The trail in the shared database: what `tollgate audit …` and the console read when storage is postgres. */
export function pgTrail(pool: pg.Pool, where: string): AuditTrail {
  return {
    where,
    async verify() {
      const reports: ChainReport[] = [];
      for (const id of await chainIds(pool)) reports.push(await verifyPgChain(pool, id));
      return combineReports(reports);
    },
    async load() {
      const lists: LoadedRecord[][] = [];
      for (const id of await chainIds(pool)) lists.push(await loadPgChain(pool, id));
      return lists.length <= 1 ? (lists[0] ?? []) : mergeByTime(lists);
    },
    async signature() {
      const r = await pool.query<{ n: string; s: string | null }>('SELECT count(*) AS n, (SELECT string_agg(chain || \':\' || m, \',\' ORDER BY chain) FROM (SELECT chain, max(seq) AS m FROM tollgate.audit_records GROUP BY chain) x) AS s FROM tollgate.audit_chains');
      return `${r.rows[0]?.n}|${r.rows[0]?.s ?? ''}`;
    },
  };
}
