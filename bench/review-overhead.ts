// Review-step overhead beyond the model's own latency, and reviewer calls saved by the verdict cache.
// Run: npx tsx bench/review-overhead.ts [calls=500]
import { createReviewer, SessionContext, type PlannedAction } from '../gateway/review/index.js';
import { startReviewerServer } from '../test/fixtures/reviewer-server.js';

const calls = Number(process.argv[2] ?? 500);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (n: number) => n.toFixed(2);

const fx = await startReviewerServer(); // answers instantly with a low-risk allow
const action = (i: number): PlannedAction => ({
  server: 'fs',
  tool: 'fs__read_file',
  description: 'Read a file from the workspace',
  annotations: { readOnlyHint: true },
  arguments: { path: `src/file-${i}.ts`, encoding: 'utf8' },
  policyReasons: ['rule fs__* → review'],
});

// A realistic session context: a prompt and 40 earlier calls with 2 KB results (budgets cut it down).
const ctx = new SessionContext();
ctx.recordUserPrompt('Refactor the parser module and run the tests; the API key is sk-proj-abcdefghijklmnopqrstuvwxyz0123');
for (let i = 0; i < 40; i++) {
  ctx.recordCall(`c${i}`, 'fs__read_file', { path: `src/f${i}.ts` });
  ctx.recordResult(`c${i}`, `export const x${i} = ${'1234567890'.repeat(200)};`, false);
}

// 1) overhead: cache off, every call reaches the fixture
const reviewer = createReviewer({ baseURL: fx.baseURL, model: 'bench', timeoutMs: 10_000, maxAutoApproveRisk: 'low', cacheTtlMs: 0 });
for (let i = 0; i < 50; i++) await reviewer.review(action(i), ctx, { sessionId: 'warm', policyVersion: 'v1' }); // warm-up
fx.requests.length = 0;
const total: number[] = [];
const overhead: number[] = [];
for (let i = 0; i < calls; i++) {
  const out = await reviewer.review(action(i), ctx, { sessionId: 's', policyVersion: 'v1' });
  if (out.kind !== 'verdict') throw new Error(`unexpected ${out.kind}`);
  const server = fx.requests[fx.requests.length - 1]!.handlingMs;
  total.push(out.latencyMs);
  overhead.push(out.latencyMs - server);
}
const promptBytes = JSON.stringify(fx.requests[0]!.body).length;

// 2) cache: 20 distinct calls, each repeated 10 times in one session, interleaved
fx.requests.length = 0;
const cached = createReviewer({ baseURL: fx.baseURL, model: 'bench', timeoutMs: 10_000, maxAutoApproveRisk: 'low', cacheTtlMs: 60_000 });
const distinct = 20;
const repeats = 10;
let hits = 0;
for (let r = 0; r < repeats; r++) {
  for (let i = 0; i < distinct; i++) {
    const out = await cached.review(action(i), ctx, { sessionId: 's', policyVersion: 'v1' });
    if (out.kind === 'verdict' && out.cached) hits++;
  }
}
const reviews = distinct * repeats;
await fx.close();

console.log(`review() over ${calls} calls, fixture answering instantly, request body ≈ ${(promptBytes / 1024).toFixed(1)} KiB`);
console.log(`  total latency    p50 ${fmt(pct(total, 50))} ms   p99 ${fmt(pct(total, 99))} ms`);
console.log(`  overhead (total − server handling)   p50 ${fmt(pct(overhead, 50))} ms   p99 ${fmt(pct(overhead, 99))} ms`);
console.log(`cache: ${reviews} reviews of ${distinct} distinct low-risk calls → ${fx.requests.length} model requests, ${hits} served from cache (${((100 * hits) / reviews).toFixed(0)}% saved)`);
