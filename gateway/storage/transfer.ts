// `tollgate storage import | export`: a files data dir into Postgres and back, every chain still verifiable.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { CHAINS_DIR, journalFileName, listChains, listJournalFiles, splitLines, MAIN_CHAIN } from '../audit/journal.js';
import { chainChecker, verifyJournal } from '../audit/verify.js';
import { ApprovalQueue, QueueDecisionSchema } from '../review/queue.js';
import { withFileLock, writeFileAtomic } from '../state/index.js';
import { PinStore, type PinRecord } from '../upstreams/pins.js';
import { importPins } from './postgres/pins.js';
import { z } from 'zod';

export interface TransferReport {
  chains: Array<{ from: string; to: string; records: number }>;
  approvals: number;
  tokens: number;
  /** Tool pins (with any pending definition) moved. */
  pins: number;
  skipped: string[];
}

/**
 * A files chain keeps its id; the main chain (which has no id of its own) gets one made from the data dir's path,
 * so importing two data dirs never merges their main chains and importing one twice is recognised.
 */
function importedId(chain: string, auditDir: string, firstTime: string | undefined): string {
  if (chain !== MAIN_CHAIN) return chain;
  const t = (firstTime ? new Date(firstTime) : new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'z').toLowerCase();
  return `${t}-imported-main-${createHash('sha256').update(resolve(auditDir)).digest('hex').slice(0, 10)}`;
}

/**
 * Copies every chain of `<dataDir>/audit` (and the pending approvals of `<dataDir>/state/approvals`) into the
 * database. Refuses a chain that does not verify (it would not verify there either); a chain already in the database
 * is skipped, so an interrupted import can be run again. Each chain goes in one transaction.
 */
export async function importFiles(pool: pg.Pool, dataDir: string): Promise<TransferReport> {
  const auditDir = join(dataDir, 'audit');
  const report: TransferReport = { chains: [], approvals: 0, tokens: 0, pins: 0, skipped: [] };
  const check = await verifyJournal(auditDir);
  if (!check.ok) throw new Error(`${auditDir} does not verify (${check.problem?.file}:${check.problem?.line}: ${check.problem?.why}); fix or set it aside before importing`);
  for (const chain of await listChains(auditDir)) {
    const lines: string[] = [];
    for (const f of await listJournalFiles(chain.dir)) lines.push(...splitLines(await readFile(f.file)).lines);
    if (!lines.length) continue;
    const records = lines.map((l) => JSON.parse(l) as { seq: number; time: string; name: string; sessionId?: string; callId?: string });
    const id = importedId(chain.id, auditDir, records[0]?.time);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const inserted = await c.query('INSERT INTO tollgate.audit_chains (id, host, pid) VALUES ($1, $2, 0) ON CONFLICT (id) DO NOTHING', [id, `imported:${os.hostname()}`]);
      if (inserted.rowCount === 0) {
        await c.query('ROLLBACK');
        report.skipped.push(`chain ${id} (already in the database)`);
        continue;
      }
      for (let i = 0; i < records.length; i += 1000) {
        const part = records.slice(i, i + 1000);
        await c.query(
          `INSERT INTO tollgate.audit_records (chain, seq, time, name, session_id, call_id, line)
           SELECT $1, * FROM unnest($2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])`,
          [id, part.map((r) => r.seq), part.map((r) => r.time), part.map((r) => r.name), part.map((r) => r.sessionId ?? null), part.map((r) => r.callId ?? null), lines.slice(i, i + 1000)],
        );
      }
      await c.query('COMMIT');
      report.chains.push({ from: chain.id, to: id, records: records.length });
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
  const queue = new ApprovalQueue({ stateDir: join(dataDir, 'state') });
  for (const item of await queue.items()) {
    const decision = await queue.decisionOf(item.id);
    const r = await pool.query(
      `INSERT INTO tollgate.approvals (id, item, token_hash, created_at, expires_at, deferred, identity, server, tool, args_digest, decision, decided_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
      [item.id, item, item.tokenHash, item.createdAt, item.expiresAt, !!item.deferred, item.identity ?? null, item.server, item.tool, item.argsDigest, decision ?? null, decision?.decidedAt ?? null],
    );
    report.approvals += r.rowCount ?? 0;
  }
  for (const t of await readTokens(join(dataDir, 'state', 'tokens.json'))) {
    const r = await pool.query('INSERT INTO tollgate.tokens (id, identity, groups, hash, created, revoked) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING', [t.id, t.identity, JSON.stringify(t.groups), t.hash, t.created, t.revoked ?? null]);
    report.tokens += r.rowCount ?? 0;
  }
  // pins: a tool already pinned in the database keeps its row (the replicas' decision stands over an old copy)
  if (existsSync(join(dataDir, 'state', 'pins'))) report.pins = await importPins(pool, new PinStore(join(dataDir, 'state')).list());
  return report;
}

const TokensFileSchema = z.object({ version: z.literal(1), tokens: z.array(z.object({ id: z.string(), identity: z.string(), groups: z.array(z.string()), hash: z.string().regex(/^sha256:[0-9a-f]{64}$/), created: z.string(), revoked: z.string().optional() })) });
type TokenRow = z.infer<typeof TokensFileSchema>['tokens'][number];

async function readTokens(file: string): Promise<TokenRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const parsed = TokensFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data.tokens;
}

/**
 * Writes every chain in the database to `<dataDir>/audit/chains/<id>/journal-000001.jsonl` (the lines exactly as
 * hashed), and the approvals queue to `<dataDir>/state/approvals`. Refuses to overwrite a chain already there.
 */
export async function exportToFiles(pool: pg.Pool, dataDir: string): Promise<TransferReport> {
  const auditDir = join(dataDir, 'audit');
  const report: TransferReport = { chains: [], approvals: 0, tokens: 0, pins: 0, skipped: [] };
  const ids = (await pool.query<{ id: string }>('SELECT DISTINCT chain AS id FROM tollgate.audit_records ORDER BY 1')).rows.map((r) => r.id);
  for (const id of ids) {
    const dir = join(auditDir, CHAINS_DIR, id);
    if (existsSync(dir)) {
      report.skipped.push(`chain ${id} (${dir} exists)`);
      continue;
    }
    const rows = (await pool.query<{ line: string }>('SELECT line FROM tollgate.audit_records WHERE chain = $1 ORDER BY seq', [id])).rows;
    const checker = chainChecker();
    for (const [i, r] of rows.entries()) {
      const bad = checker.check(r.line);
      if (bad) throw new Error(`chain ${id} does not verify at row ${i + 1}${bad.seq !== undefined ? ` (seq ${bad.seq})` : ''}: ${bad.why}; nothing of it was exported`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, journalFileName(1)), rows.map((r) => `${r.line}\n`).join(''), { mode: 0o600, flag: 'wx' });
    report.chains.push({ from: id, to: `${CHAINS_DIR}/${id}`, records: rows.length });
  }
  const approvalsDir = join(dataDir, 'state', 'approvals');
  await mkdir(approvalsDir, { recursive: true, mode: 0o700 });
  for (const r of (await pool.query<{ id: string; item: unknown; decision: unknown }>('SELECT id, item, decision FROM tollgate.approvals ORDER BY created_at')).rows) {
    const itemPath = join(approvalsDir, `${r.id}.json`);
    if (existsSync(itemPath)) continue;
    await writeFile(itemPath, JSON.stringify(r.item, null, 2), { mode: 0o600 });
    const d = QueueDecisionSchema.safeParse(r.decision);
    if (d.success) await writeFile(join(approvalsDir, `${r.id}.decision.json`), JSON.stringify(d.data, null, 2), { mode: 0o600 });
    report.approvals += 1;
  }
  // tokens (hashes only) into tokens.json, merged with any already there; under its lock, like `tokens create`
  const tokensFile = join(dataDir, 'state', 'tokens.json');
  await withFileLock(tokensFile, async () => {
    const have = await readTokens(tokensFile);
    const rows = (await pool.query<{ id: string; identity: string; groups: string[]; hash: string; created: Date; revoked: Date | null }>('SELECT id, identity, groups, hash, created, revoked FROM tollgate.tokens ORDER BY created, id')).rows;
    const add = rows.filter((r) => !have.some((h) => h.id === r.id || h.hash === r.hash)).map((r) => ({ id: r.id, identity: r.identity, groups: r.groups, hash: r.hash, created: r.created.toISOString(), ...(r.revoked ? { revoked: r.revoked.toISOString() } : {}) }));
    if (add.length) await writeFileAtomic(tokensFile, `${JSON.stringify({ version: 1, tokens: [...have, ...add] }, null, 2)}\n`);
    report.tokens = add.length;
  });
  // pins, each as a files pin (a tool already pinned in the data dir keeps its file)
  const pins = new PinStore(join(dataDir, 'state'));
  for (const r of (await pool.query<{ record: PinRecord }>('SELECT record FROM tollgate.pins ORDER BY tool')).rows) {
    if (pins.read(r.record.tool)) continue;
    pins.put(r.record);
    report.pins += 1;
  }
  return report;
}
