// Per-call latency of a rule-allowed call: direct to the upstream vs through the gateway (journal on disk vs on tmpfs).
// Run: node --import tsx test/e2e/audit-bench/latency.ts [calls=400]   (not part of the test suite; prints figures)
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { configDir, stdioAgent, upstreams, tempDir } from '../../helpers/gateway.js';
import { readJournal } from '../audit-support/journal.js';

const N = Number(process.argv[2] ?? 400);
const WARMUP = 50;
const CONCURRENT = 16;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function measure(client: Client, label: string): Promise<{ p50: number; p90: number; perSec: number }> {
  const call = (i: number) => client.callTool({ name: label === 'direct' ? 'echo' : 'fixture__echo', arguments: { text: `bench ${i}` } });
  for (let i = 0; i < WARMUP; i++) await call(i);
  const lat: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await call(i);
    lat.push(performance.now() - t);
  }
  // throughput with CONCURRENT calls in flight
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT }, async () => {
    while (next < N) await call(next++);
  }));
  const perSec = N / ((performance.now() - t0) / 1000);
  return { p50: pct(lat, 50), p90: pct(lat, 90), perSec };
}

const fmt = (r: { p50: number; p90: number; perSec: number }) => `p50 ${r.p50.toFixed(2)} ms  p90 ${r.p90.toFixed(2)} ms  c=${CONCURRENT}: ${r.perSec.toFixed(0)} calls/s`;

const spec = upstreams.fixture();
const direct = new Client({ name: 'bench-direct', version: '1' });
await direct.connect(new StdioClientTransport({ command: spec.command, args: spec.args, env: { ...(process.env as Record<string, string>) }, stderr: 'ignore' }));
const d = await measure(direct, 'direct');
await direct.close();
console.log(`direct to upstream            ${fmt(d)}`);

const rules = [{ tool: 'fixture__echo', decision: 'allow' }];
for (const where of ['disk', 'tmpfs'] as const) {
  const data = where === 'tmpfs' ? mkdtempSync('/dev/shm/tollgate-bench-') : join(tempDir('tollgate-bench-'), 'data');
  const dir = configDir({ fixture: upstreams.fixture() }, { rules, dataDir: data });
  const agent = await stdioAgent(dir);
  const r = await measure(agent.client, 'gateway');
  await agent.close();
  const perCall = readJournal(data).filter((x) => x.name === 'tollgate.tool_call').length;
  const records = readJournal(data).length;
  console.log(`gateway, journal on ${where.padEnd(5)}    ${fmt(r)}  (${records} records for ${perCall} calls)`);
  rmSync(data, { recursive: true, force: true });
}
