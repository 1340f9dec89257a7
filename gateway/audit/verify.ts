// Reading the journal back: verify every chain file by file, and load the records of all chains merged in time order.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { GENESIS, recordHash } from './chain.js';
import { JournalRecordSchema, type JournalRecord } from './events.js';
import { listChains, listJournalFiles, safeJson, splitLines, type ChainDir, type TornTail } from './journal.js';

export interface VerifyProblem {
  /** Relative to the audit directory: `journal-000003.jsonl` (main chain) or `chains/<id>/journal-000001.jsonl`. */
  file: string;
  line: number;
  seq?: number;
  why: string;
  /** The chain it is in. */
  chain?: string;
}

export interface ChainReport {
  chain: string;
  ok: boolean;
  files: number;
  records: number;
  lastSeq: number;
  lastHash: string;
  problem?: VerifyProblem;
  tornTails: TornTail[];
}

export interface VerifyReport {
  ok: boolean;
  /** Totals over every chain. */
  files: number;
  records: number;
  /** Head of the main chain (or of the only chain): what a single-writer journal reported before. */
  lastSeq: number;
  lastHash: string;
  /** The first record that breaks a chain; nothing after it in that chain is trusted. */
  problem?: VerifyProblem;
  /** Final lines cut short by a crash: not records, reported so nobody mistakes them for either. */
  tornTails: TornTail[];
  /** One entry per writer's chain, each checked on its own. */
  chains: ChainReport[];
}

/** Checks every chain under the audit directory: each must verify on its own (see verifyChain). */
export async function verifyJournal(dir: string): Promise<VerifyReport> {
  return combineReports(await Promise.all((await listChains(dir)).map((c) => verifyChain(dir, c))));
}

/**
 * The checks every chain gets, whatever stores it (journal files or Postgres rows): each line valid JSON and a record,
 * `seq` continuous from 1, `prev` linking to the previous record's hash, `hash` matching the content.
 */
export function chainChecker() {
  const state = { lastSeq: 0, lastHash: GENESIS };
  return {
    get lastSeq() { return state.lastSeq; },
    get lastHash() { return state.lastHash; },
    /** undefined when the line is the chain's next record (and it becomes the head); otherwise why it is not. */
    check(text: string): { why: string; seq?: number } | undefined {
      const raw = safeJson(text);
      if (raw === undefined) return { why: 'not valid JSON (a line was edited, truncated or inserted)' };
      const parsed = JournalRecordSchema.safeParse(raw);
      if (!parsed.success) return { why: `not a journal record: ${parsed.error.issues[0]?.path.join('.') || 'record'} ${parsed.error.issues[0]?.message ?? ''}`.trim() };
      const rec = parsed.data;
      if (rec.seq !== state.lastSeq + 1) {
        const why = state.lastSeq === 0 && rec.seq > 1
          ? `chain starts at seq ${rec.seq}: records 1..${rec.seq - 1} are missing`
          : rec.seq <= state.lastSeq
            ? `seq ${rec.seq} after seq ${state.lastSeq}: records reordered or duplicated`
            : `seq ${rec.seq} after seq ${state.lastSeq}: ${rec.seq - state.lastSeq - 1} record(s) deleted`;
        return { why, seq: rec.seq };
      }
      if (rec.prev !== state.lastHash) return { why: `prev does not match the hash of seq ${state.lastSeq}: a record before it was changed, removed or moved`, seq: rec.seq };
      if (recordHash(raw as Record<string, unknown>) !== rec.hash) return { why: 'hash does not match the record content: the record was modified', seq: rec.seq };
      state.lastSeq = rec.seq;
      state.lastHash = rec.hash;
      return undefined;
    },
  };
}

/** Sums per-chain reports into one (verifyJournal's shape, whatever stores the chains). */
export function combineReports(chains: ChainReport[]): VerifyReport {
  const head = chains[0];
  const broken = chains.find((c) => !c.ok);
  return {
    ok: !broken,
    files: chains.reduce((n, c) => n + c.files, 0),
    records: chains.reduce((n, c) => n + c.records, 0),
    lastSeq: head?.lastSeq ?? 0,
    lastHash: head?.lastHash ?? GENESIS,
    ...(broken?.problem ? { problem: broken.problem } : {}),
    tornTails: chains.flatMap((c) => c.tornTails),
    chains,
  };
}

/** Walks one chain's files in order and checks format, seq continuity, prev links and hashes. */
export async function verifyChain(auditDir: string, chain: ChainDir): Promise<ChainReport> {
  const files = await listJournalFiles(chain.dir);
  const report: ChainReport = { chain: chain.id, ok: true, files: files.length, records: 0, lastSeq: 0, lastHash: GENESIS, tornTails: [] };
  const rel = (file: string) => path.relative(auditDir, file);
  const checker = chainChecker();
  const fail = (file: string, line: number, why: string, seq?: number): ChainReport => {
    report.ok = false;
    report.lastSeq = checker.lastSeq;
    report.lastHash = checker.lastHash;
    report.problem = { file: rel(file), line, why, ...(seq !== undefined ? { seq } : {}), chain: chain.id };
    return report;
  };
  let expectedN = files[0]?.n;
  for (const f of files) {
    if (f.n !== expectedN) return fail(f.file, 0, `file ${path.basename(f.file)} follows a missing file (expected number ${expectedN})`);
    expectedN = f.n + 1;
    const { lines, tail } = splitLines(await fsp.readFile(f.file));
    for (let i = 0; i < lines.length; i++) {
      const bad = checker.check(lines[i]!);
      if (bad) return fail(f.file, i + 1, bad.why, bad.seq);
      report.records += 1;
    }
    if (tail.length > 0) {
      // only the end of a file can be torn; the chain must continue from the last whole record
      report.tornTails.push({ file: rel(f.file), line: lines.length + 1, bytes: tail.length });
    }
  }
  report.lastSeq = checker.lastSeq;
  report.lastHash = checker.lastHash;
  return report;
}

export interface LoadedRecord {
  record: JournalRecord;
  /** Relative to the audit directory. */
  file: string;
  line: number;
  /** The chain (writer) the record is in: `main` or a directory name under `chains/`. */
  chain: string;
}

/**
 * Loads every whole record (torn tails skipped) of every chain, merged in time order: each chain keeps its own order
 * (its seq), and chains interleave by record time (ties: main first, then by chain id). No chain checks — that is
 * verify's job.
 */
export async function loadRecords(dir: string): Promise<LoadedRecord[]> {
  const perChain = await Promise.all((await listChains(dir)).map((c) => loadChain(dir, c)));
  if (perChain.length <= 1) return perChain[0] ?? [];
  return mergeByTime(perChain);
}

async function loadChain(auditDir: string, chain: ChainDir): Promise<LoadedRecord[]> {
  const out: LoadedRecord[] = [];
  for (const f of await listJournalFiles(chain.dir)) {
    const { lines } = splitLines(await fsp.readFile(f.file));
    const file = path.relative(auditDir, f.file);
    lines.forEach((text, i) => {
      const raw = safeJson(text);
      if (JournalRecordSchema.safeParse(raw).success) out.push({ record: raw as JournalRecord, file, line: i + 1, chain: chain.id });
    });
  }
  return out;
}

/** k-way merge of per-chain lists (each already in its chain's order) by record time; stable across chains. */
export function mergeByTime<T extends { record: { time: string } }>(lists: T[][]): T[] {
  const heads = lists.map(() => 0);
  const times = lists.map((l) => l.map((r) => Date.parse(r.record.time)));
  const total = lists.reduce((n, l) => n + l.length, 0);
  const out: T[] = new Array(total);
  for (let k = 0; k < total; k++) {
    let best = -1;
    let bestT = Infinity;
    for (let c = 0; c < lists.length; c++) {
      if (heads[c]! >= lists[c]!.length) continue;
      const t = times[c]![heads[c]!]!;
      // an unparseable time sorts first rather than being lost
      const tt = Number.isNaN(t) ? -Infinity : t;
      if (best < 0 || tt < bestT) {
        best = c;
        bestT = tt;
      }
    }
    out[k] = lists[best]![heads[best]!++]!;
  }
  return out;
}

/** Changes whenever any chain's files change (names, sizes, mtimes): lets a reader cache loadRecords. */
export async function journalSignature(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const c of await listChains(dir)) {
    for (const f of await listJournalFiles(c.dir)) {
      try {
        const s = await fsp.stat(f.file);
        parts.push(`${c.id}/${f.n}:${s.size}:${s.mtimeMs}`);
      } catch {
        parts.push(`${c.id}/${f.n}:gone`);
      }
    }
  }
  return parts.join('|') || 'none';
}

/** Where the trail is read from: the journal files of a data dir, or the Postgres tables (gateway/storage). */
export interface AuditTrail {
  /** For messages: the audit directory, or the database with its password hidden. */
  readonly where: string;
  verify(): Promise<VerifyReport>;
  /** Every record of every chain, merged in time order (see loadRecords). */
  load(): Promise<LoadedRecord[]>;
  /** Changes whenever the trail changed: lets a reader cache load(). */
  signature(): Promise<string>;
}

/** The trail in `<dataDir>/audit/` (every chain under it). */
export function filesTrail(auditDir: string): AuditTrail {
  return { where: auditDir, verify: () => verifyJournal(auditDir), load: () => loadRecords(auditDir), signature: () => journalSignature(auditDir) };
}
