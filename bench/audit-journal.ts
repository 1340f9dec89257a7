// Audit cost: record() latency (validate + redact + hash + group-committed fdatasync) at concurrency 1 and 32,
// and OTLP events/s sustained to a loopback receiver. Run: npx tsx bench/audit-journal.ts [records] [dir]
// Use a dir on the disk the real dataDir lives on: on tmpfs fdatasync costs nothing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openAudit, sha256Digest, type AuditEventInput } from '../gateway/audit/index.js';
import { startOtlpReceiver } from '../test/fixtures/otlp-receiver.js';

const N = Number(process.argv[2] ?? 4000);
const BASE = process.argv[3] ?? os.tmpdir();
const args = { command: 'git status --short', cwd: '/work/repo' };
const event = (i: number): AuditEventInput => ({
  name: 'tollgate.tool_decision', sessionId: 's-bench', callId: `c-${i}`, identity: 'bench', server: 'sh', tool: 'sh__exec',
  decision: 'approved', source: 'rule', reasons: ['shell rule git status'],
});
const call = (i: number): AuditEventInput => ({
  name: 'tollgate.tool_call', sessionId: 's-bench', callId: `c-${i}`, identity: 'bench', server: 'sh', tool: 'sh__exec',
  method: 'tools/call', arguments: args, argsDigest: sha256Digest(JSON.stringify(args)),
});

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function latency(concurrency: number): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(BASE, 'tollgate-bench-'));
  const audit = await openAudit({ dataDir, serviceVersion: 'bench', env: {} });
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < N) {
      const i = next++;
      const s = performance.now();
      await audit.record(i % 2 ? event(i) : call(i));
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  await audit.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`journal c=${String(concurrency).padStart(2)}: p50 ${pct(lat, 50).toFixed(3)} ms  p99 ${pct(lat, 99).toFixed(3)} ms  ${Math.round(N / secs)} records/s (${N} records, fdatasync each batch)`);
}

async function otlpThroughput(): Promise<void> {
  const rx = await startOtlpReceiver();
  const dataDir = fs.mkdtempSync(path.join(BASE, 'tollgate-bench-'));
  const audit = await openAudit({ dataDir, serviceVersion: 'bench', otlp: { endpoint: rx.url }, env: {} });
  const total = N * 5;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < total) { const i = next++; await audit.record(i % 2 ? event(i) : call(i)); }
  }));
  await rx.waitForLogs(total, 120_000);
  const secs = (performance.now() - t0) / 1000;
  await audit.close();
  const c = audit.counters();
  console.log(`otlp: ${total} events journaled and received by the loopback collector in ${secs.toFixed(2)} s = ${Math.round(total / secs)} events/s (exported ${c.otlpExported}, failed ${c.otlpFailed}, ${rx.requests.length} requests)`);
  await rx.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${os.cpus().length} cpus, journal under ${BASE}`);
await latency(1);
await latency(32);
await otlpThroughput();
