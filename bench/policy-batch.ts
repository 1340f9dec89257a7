// `tollgate check --batch` throughput and allow-rate on everyday read-only commands (test/policy/fixtures/everyday-readonly.txt).
// Run: npx tsx bench/policy-batch.ts [repeats]   — in-process checkCommand over in-memory streams, default config.
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { checkCommand } from '../gateway/policy/index.js';

const sample = readFileSync(new URL('../test/policy/fixtures/everyday-readonly.txt', import.meta.url), 'utf8').split('\n').filter((l) => l.trim());
const repeats = Number(process.argv[2] ?? 40);
const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));

async function batch(lines: string[]): Promise<{ ms: number; out: { decision?: string; reasons?: string[] }[] }> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (c) => (text += c));
  stdin.end(lines.map((shell) => JSON.stringify({ shell })).join('\n'));
  const t0 = performance.now();
  await checkCommand(['--batch', '--config', dir], { stdin, stdout, stderr: process.stderr, env: { TOLLGATE_REQUIREMENTS: '' }, cwd: dir });
  return { ms: performance.now() - t0, out: text.trim().split('\n').map((l) => JSON.parse(l)) };
}

const first = await batch(sample);
const allowed = first.out.filter((o) => o.decision === 'allow').length;
const big: string[] = [];
for (let i = 0; i < repeats; i++) big.push(...sample);
const run = await batch(big);
console.log(`sample: ${sample.length} commands; allow ${allowed}/${sample.length} = ${((100 * allowed) / sample.length).toFixed(1)}%`);
console.log(`throughput: ${big.length} decisions in ${run.ms.toFixed(0)} ms = ${Math.round((big.length / run.ms) * 1000)} decisions/s (includes config load)`);
console.log('not allowed:');
first.out.forEach((o, i) => o.decision !== 'allow' && console.log(`  ${o.decision?.padEnd(6)} ${sample[i]}  — ${o.reasons?.[0]}`));
rmSync(dir, { recursive: true });
