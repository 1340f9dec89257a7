// `npx tsx bench/console-trail.ts [--records 100000] [--chains 2]`: how the console's audit page holds up on a large
// journal. Writes N realistic records (tool_call / tool_decision / tool_result triples) across C writer chains, then
// times the console's trail reader: the first load, a reload after one more record (what happens on every page view
// while a gateway is serving), a reload with nothing new, and one filtered + searched page.
import { mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openJournal } from '../gateway/audit/journal.js';
import { trailReader } from '../gateway/console/trail.js';
import { compileFilter } from '../gateway/audit/query.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, chains: { type: 'string', default: '2' } } });
const N = Number(values.records);
const C = Number(values.chains);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-trail-'));
const auditDir = join(dataDir, 'audit');

const journals = [];
for (let c = 0; c < C; c++) journals.push(await openJournal({ dir: auditDir, lazySyncMs: 50 }));
const t0 = Date.now() - N * 10;
let pending: Promise<void>[] = [];
for (let i = 0; i < N; i++) {
  const call = Math.floor(i / 3);
  const base = { time: new Date(t0 + i * 10).toISOString(), sessionId: `s-${call % 50}`, identity: `token:agent-${call % 7}`, callId: `c-${call}`, server: 'fs', tool: `fs__${['read_file', 'write_file', 'list'][call % 3]}` };
  const kind = i % 3;
  const rec = kind === 0 ? { ...base, name: 'tollgate.tool_call', arguments: { path: `/work/src/file-${call}.ts` }, argsDigest: 'x'.repeat(64) } : kind === 1 ? { ...base, name: 'tollgate.tool_decision', decision: call % 11 ? 'allow' : 'deny', source: 'rule', reasons: ['rule fs-read: reading the workspace is fine'] } : { ...base, name: 'tollgate.tool_result', outcome: 'ok', durationMs: 3, resultBytes: 120 };
  pending.push(journals[call % C]!.append(rec, 'soon').durable);
  if (pending.length >= 5000) await Promise.all(pending.splice(0));
}
await Promise.all(pending);

const time = async (label: string, fn: () => Promise<unknown>) => {
  const s = performance.now();
  const r = await fn();
  const ms = performance.now() - s;
  console.log(`${label.padEnd(44)} ${ms.toFixed(0).padStart(6)} ms`);
  return r;
};
const records = trailReader(dataDir);
const all = (await time(`first load (${N} records, ${C} chains)`, () => records())) as unknown[];
if (all.length !== N) throw new Error(`read ${all.length} records, wrote ${N}`);
await time('reload, nothing new', () => records());
const one = journals[0]!.append({ name: 'tollgate.tool_call', time: new Date().toISOString(), callId: 'c-last', tool: 'fs__list', server: 'fs', arguments: {} }, 'now');
await one.durable;
const again = (await time('reload after one more record', () => records())) as unknown[];
if (again.length !== N + 1) throw new Error(`read ${again.length} records after the append, expected ${N + 1}`);
const match = compileFilter({ tool: 'fs__read_*', decision: 'deny', search: 'workspace' });
await time('filter + search the whole trail', async () => (await records()).filter((r) => match(r as never)));
const rss = process.memoryUsage().rss / 1048576;
console.log(`RSS ${rss.toFixed(0)} MB; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const j of journals) await j.close();
