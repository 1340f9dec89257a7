// Through the real gateway (`tollgate serve --stdio` + fixture upstream + fixture reviewer answering instantly):
// (1) what the review step adds to a call beyond the model's own latency, (2) reviewer calls the verdict cache saves.
// Run: npx tsx bench/review-e2e.ts [calls=300] [repeatCalls=200] [distinct=10]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, stdioAgent, upstreams } from '../test/helpers/gateway.js';
import { startReviewerServer, type ReviewerServer } from '../test/fixtures/reviewer-server.js';

const calls = Number(process.argv[2] ?? 300);
const repeatCalls = Number(process.argv[3] ?? 200);
const distinct = Number(process.argv[4] ?? 10);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const ms = (n: number) => `${n.toFixed(2)} ms`;

/** Same tool and argument size on both paths: a rule allows `echo`, a second rule sends texts starting "review-" to review. */
function gatewayConfig(reviewer: ReviewerServer, cacheTtlSeconds: number): string {
  const dir = configDir({ fixture: upstreams.fixture() });
  writeFileSync(
    join(dir, 'tollgate.json'),
    JSON.stringify({
      approvals: { mode: 'auto-review', timeoutSeconds: 60 },
      reviewer: { baseURL: reviewer.baseURL, model: 'bench', timeoutSeconds: 10, cacheTtlSeconds },
      rules: [
        { tool: 'fixture__echo', decision: 'allow' },
        { tool: 'fixture__echo', args: [{ path: '$.text', prefix: 'review-' }], decision: 'review' },
      ],
      audit: { otlp: { enabled: false } },
    }),
  );
  return dir;
}

const reviewer = await startReviewerServer(); // low-risk allow, answered as soon as the request body arrives

// 1) overhead: cache off, so every reviewed call reaches the fixture; reviewed and allowed calls interleaved
{
  const agent = await stdioAgent(gatewayConfig(reviewer, 0));
  const call = async (text: string) => {
    const t = performance.now();
    const r = await agent.client.callTool({ name: 'fixture__echo', arguments: { text } });
    if (r.isError) throw new Error(`call failed: ${JSON.stringify(r.content)}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 50; i++) {
    await call(`allow-${String(i).padStart(5, '0')}`);
    await call(`review-${String(i).padStart(4, '0')}`);
  }
  reviewer.requests.length = 0;
  const allowed: number[] = [];
  const reviewed: number[] = [];
  for (let i = 0; i < calls; i++) {
    allowed.push(await call(`allow-${String(i).padStart(5, '0')}`)); // same length as the review- texts
    reviewed.push(await call(`review-${String(i).padStart(4, '0')}`));
  }
  if (reviewer.requests.length !== calls) throw new Error(`expected ${calls} reviewer requests, saw ${reviewer.requests.length}`);
  const model = reviewer.requests.map((r) => r.handlingMs);
  const bytes = reviewer.requests.map((r) => JSON.stringify(r.body).length);
  console.log(`overhead (${calls} rule-allowed and ${calls} reviewer-approved calls, interleaved, one stdio session, cache off)`);
  console.log(`  rule-allowed      p50 ${ms(pct(allowed, 50))}  p99 ${ms(pct(allowed, 99))}`);
  console.log(`  reviewer-approved p50 ${ms(pct(reviewed, 50))}  p99 ${ms(pct(reviewed, 99))}`);
  console.log(`  difference        p50 ${ms(pct(reviewed, 50) - pct(allowed, 50))}  p99 ${ms(pct(reviewed, 99) - pct(allowed, 99))}`);
  console.log(`  model (fixture server handling) p50 ${ms(pct(model, 50))}  p99 ${ms(pct(model, 99))}`);
  console.log(`  review step beyond the model    p50 ${ms(pct(reviewed, 50) - pct(allowed, 50) - pct(model, 50))}  p99 ${ms(pct(reviewed, 99) - pct(allowed, 99) - pct(model, 99))}`);
  console.log(`  reviewer request size p50 ${Math.round(pct(bytes, 50) / 1024)} KiB (context grows with the session, capped by budgets)`);
  await agent.close();
}

// 2) cache: an agent repeating the same few reviewed calls (e.g. polling), cache on (default TTL)
{
  const agent = await stdioAgent(gatewayConfig(reviewer, 600));
  reviewer.requests.length = 0;
  const first: number[] = [];
  const repeat: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < repeatCalls; i++) {
    const k = i % distinct;
    const t = performance.now();
    const r = await agent.client.callTool({ name: 'fixture__echo', arguments: { text: `review-${k}` } });
    if (r.isError) throw new Error('call failed');
    (seen.has(k) ? repeat : first).push(performance.now() - t);
    seen.add(k);
  }
  const asked = reviewer.requests.length;
  console.log(`cache (${repeatCalls} reviewed calls over ${distinct} distinct argument sets, one session)`);
  console.log(`  reviewer requests ${asked} of ${repeatCalls}: ${repeatCalls - asked} saved (${(((repeatCalls - asked) / repeatCalls) * 100).toFixed(1)} %)`);
  console.log(`  first call p50 ${ms(pct(first, 50))}; cached repeat p50 ${ms(pct(repeat, 50))} p99 ${ms(pct(repeat, 99))}`);
  await agent.close();
}

await reviewer.close();
