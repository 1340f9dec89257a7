// Sandbox start-up cost per command: median wall time of `true` via bash, unsandboxed vs bubblewrap, per profile.
// Run: npx tsx bench/sandbox-startup.ts [runs]
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createEgressProxy, denyReadList, probeSandbox, runSandboxed, type RunOptions } from '../gateway/sandbox/index.js';

const runs = Number(process.argv[2] ?? 40);

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(1)} ms  p90 ${q(0.9).toFixed(1)} ms  min ${s[0]!.toFixed(1)} ms  (n=${s.length})`;
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

const probe = await probeSandbox();
if (!probe.ok) {
  console.error(`sandbox unavailable: ${probe.reason}`);
  process.exit(1);
}
const ws = await mkdtemp(path.join(os.tmpdir(), 'tollgate-bench-'));
const proxy = await createEgressProxy({ decide: async () => ({ allow: false, reason: 'bench' }) });
const base: RunOptions = {
  script: 'true', cwd: ws, writableRoots: [ws], readOnly: false, protectedPaths: [],
  network: { kind: 'none' }, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeoutMs: 10_000, maxOutputBytes: 65_536,
};

const rawSpawn = await time(() => new Promise<void>((resolve) => spawn('bash', ['-c', 'true'], { stdio: 'ignore' }).on('close', () => resolve())));
const unsandboxed = await time(() => runSandboxed({ ...base, unsandboxed: true }));
const sandboxed = await time(() => runSandboxed(base));
// Each proxied run opens (and closes) its own egress identity, as the shell server does.
const proxied = await time(async () => {
  const run = await proxy.openRun({ server: 'bench' });
  try {
    await runSandboxed({ ...base, network: { kind: 'proxy', run, proxyDir: proxy.dir } });
  } finally {
    await run.close('the command exited');
  }
});
// The profiles as the shell server runs them: the default deny-read masks (credential stores, data dir, config dir).
const denyRead = denyReadList({ home: os.homedir(), configDir: path.dirname(ws), dataDir: path.join(ws, '.tollgate'), roots: [ws], extra: [], env: process.env, keep: [process.execPath] });
const readOnlyProfile = await time(() => runSandboxed({ ...base, readOnly: true, denyRead }));
const writeProfile = await time(() => runSandboxed({ ...base, denyRead }));
// The writable profile stages writes in an overlay and applies them afterwards: one small file written per run.
let n = 0;
const writeOneFile = await time(() => runSandboxed({ ...base, denyRead, script: `echo ${n++} > f${n % 4}.txt` }));
// A big workspace (20 000 files in 200 directories): only the directories the command changed are read afterwards.
const big = await mkdtemp(path.join(os.tmpdir(), 'tollgate-bench-big-'));
for (let d = 0; d < 200; d++) {
  await mkdir(path.join(big, `d${d}`));
  await Promise.all(Array.from({ length: 100 }, (_, f) => writeFile(path.join(big, `d${d}`, `f${f}.txt`), 'x')));
}
const bigBase = { ...base, cwd: big, writableRoots: [big], denyRead };
const bigWrite = await time(() => runSandboxed({ ...bigBase, script: `echo ${n++} > d${n % 200}/f${n % 100}.txt` }));

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}, ${os.cpus().length} cpus, bwrap ${probe.bwrap}, ${runs} runs each`);
console.log(`spawn bash -c true (bare)          ${stats(rawSpawn)}`);
console.log(`runSandboxed unsandboxed           ${stats(unsandboxed)}`);
console.log(`runSandboxed bwrap, network none   ${stats(sandboxed)}`);
console.log(`runSandboxed bwrap, network proxy  ${stats(proxied)}`);
console.log(`profile read-only + deny-read       ${stats(readOnlyProfile)}`);
console.log(`profile workspace-write + deny-read ${stats(writeProfile)}  (${denyRead.length} deny-read entries)`);
console.log(`workspace-write, writes one file   ${stats(writeOneFile)}`);
console.log(`  same, 20 000-file workspace       ${stats(bigWrite)}`);
console.log(`sandbox overhead (median): +${(med(sandboxed) - med(unsandboxed)).toFixed(1)} ms (none), +${(med(proxied) - med(unsandboxed)).toFixed(1)} ms (proxy, includes the node bridge)`);
await proxy.close();
await rm(ws, { recursive: true, force: true });
await rm(big, { recursive: true, force: true });
