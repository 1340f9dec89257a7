// End-to-end cost of one sandboxed command: `sh__exec "true"` through the gateway vs spawning `bash -c true` directly.
// Run: node --import tsx test/e2e/shell-bench/exec.ts [runs=60]   (not part of the test suite; prints figures)
import { spawn } from 'node:child_process';
import { configDir, stdioAgent } from '../../helpers/gateway.js';

const N = Number(process.argv[2] ?? 60);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bare: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await new Promise<void>((r) => spawn('bash', ['-c', 'true'], { stdio: 'ignore' }).on('exit', () => r()));
  bare.push(performance.now() - t);
}

const dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] } }, { rules: [{ shell: ['true'], decision: 'allow' }] });
const agent = await stdioAgent(dir);
const viaGateway: number[] = [];
for (let i = 0; i < N + 5; i++) {
  const t = performance.now();
  const r = await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'true' } });
  if (r.isError) throw new Error(JSON.stringify(r.content));
  if (i >= 5) viaGateway.push(performance.now() - t); // the first call also probes bwrap
}
await agent.close();
console.log(`bash -c true, spawned directly       median ${median(bare).toFixed(1)} ms`);
console.log(`sh__exec "true" through the gateway  median ${median(viaGateway).toFixed(1)} ms  (policy + journal + bwrap sandbox)`);
