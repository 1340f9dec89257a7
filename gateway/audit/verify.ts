// Reading the journal back: verify the chain file by file, and load records for queries.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { GENESIS, recordHash } from './chain.js';
import { JournalRecordSchema, type JournalRecord } from './events.js';
import { listJournalFiles, safeJson, splitLines, type TornTail } from './journal.js';

export interface VerifyProblem {
  file: string;
  line: number;
  seq?: number;
  why: string;
}

export interface VerifyReport {
  ok: boolean;
  files: number;
  records: number;
  lastSeq: number;
  lastHash: string;
  /** The first record that breaks the chain; nothing after it is trusted. */
  problem?: VerifyProblem;
  /** Final lines cut short by a crash: not records, reported so nobody mistakes them for either. */
  tornTails: TornTail[];
}

/** Walks every journal file in order and checks format, seq continuity, prev links and hashes. */
export async function verifyJournal(dir: string): Promise<VerifyReport> {
  const files = await listJournalFiles(dir);
  const report: VerifyReport = { ok: true, files: files.length, records: 0, lastSeq: 0, lastHash: GENESIS, tornTails: [] };
  const fail = (file: string, line: number, why: string, seq?: number): VerifyReport => {
    report.ok = false;
    report.problem = { file: path.basename(file), line, why, ...(seq !== undefined ? { seq } : {}) };
    return report;
  };
  let expectedN = files[0]?.n;
  for (const f of files) {
    if (f.n !== expectedN) return fail(f.file, 0, `file ${path.basename(f.file)} follows a missing file (expected number ${expectedN})`);
    expectedN = f.n + 1;
    const { lines, tail } = splitLines(await fsp.readFile(f.file));
    for (let i = 0; i < lines.length; i++) {
      const lineNo = i + 1;
      const raw = safeJson(lines[i]!);
      if (raw === undefined) return fail(f.file, lineNo, 'not valid JSON (a line was edited, truncated or inserted)');
      const parsed = JournalRecordSchema.safeParse(raw);
      if (!parsed.success) return fail(f.file, lineNo, `not a journal record: ${parsed.error.issues[0]?.path.join('.') || 'record'} ${parsed.error.issues[0]?.message ?? ''}`.trim());
      const rec = parsed.data;
      if (rec.seq !== report.lastSeq + 1) {
        const why = report.lastSeq === 0 && rec.seq > 1
          ? `chain starts at seq ${rec.seq}: records 1..${rec.seq - 1} are missing`
          : rec.seq <= report.lastSeq
            ? `seq ${rec.seq} after seq ${report.lastSeq}: records reordered or duplicated`
            : `seq ${rec.seq} after seq ${report.lastSeq}: ${rec.seq - report.lastSeq - 1} record(s) deleted`;
        return fail(f.file, lineNo, why, rec.seq);
      }
      if (rec.prev !== report.lastHash) return fail(f.file, lineNo, `prev does not match the hash of seq ${report.lastSeq}: a record before it was changed, removed or moved`, rec.seq);
      const actual = recordHash(raw as Record<string, unknown>);
      if (actual !== rec.hash) return fail(f.file, lineNo, 'hash does not match the record content: the record was modified', rec.seq);
      report.records += 1;
      report.lastSeq = rec.seq;
      report.lastHash = rec.hash;
    }
    if (tail.length > 0) {
      // only the end of a file can be torn; the chain must continue from the last whole record
      report.tornTails.push({ file: path.basename(f.file), line: lines.length + 1, bytes: tail.length });
    }
  }
  return report;
}

export interface LoadedRecord {
  record: JournalRecord;
  file: string;
  line: number;
}

/** Loads every whole record (torn tails skipped) in journal order; no chain checks — that is verify's job. */
export async function loadRecords(dir: string): Promise<LoadedRecord[]> {
  const out: LoadedRecord[] = [];
  for (const f of await listJournalFiles(dir)) {
    const { lines } = splitLines(await fsp.readFile(f.file));
    lines.forEach((text, i) => {
      const raw = safeJson(text);
      if (JournalRecordSchema.safeParse(raw).success) out.push({ record: raw as JournalRecord, file: path.basename(f.file), line: i + 1 });
    });
  }
  return out;
}
