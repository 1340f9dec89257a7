// Many gateway processes on one config dir: 8 `serve --stdio` and one `serve --http`, each journaling its own chain.
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ALLOW_ALL, configDir, httpAgent, httpGateway, runCli, stdioAgent, textOf, until, upstreams, type HttpGateway, type StdioAgent } from '../helpers/gateway.js';

const STDIO = 8;
const CALLS = 16;

async function callMany(client: Client, who: string): Promise<string[]> {
  const answers: string[] = [];
  // four in flight at a time, like an agent running tools in parallel
  for (let i = 0; i < CALLS; i += 4) {
    const batch = await Promise.all([0, 1, 2, 3].map((k) => client.callTool({ name: 'fixture__echo', arguments: { text: `${who}-${i + k}` } })));
    for (const r of batch) answers.push(textOf(r));
  }
  return answers;
}

describe('many gateway processes on one config dir', () => {
  const agents: StdioAgent[] = [];
  let http: HttpGateway | undefined;
  const httpClients: Client[] = [];
  afterAll(async () => {
    await Promise.allSettled([...agents.map((a) => a.close()), ...httpClients.map((c) => c.close())]);
    await http?.stop();
  });

  it('two stdio processes at once both work, each writing its own chain', async () => {
    const dir = configDir({ fixture: upstreams.fixture() }, ALLOW_ALL);
    const [a, b] = await Promise.all([stdioAgent(dir), stdioAgent(dir)]);
    agents.push(a!, b!);
    const [ra, rb] = await Promise.all([
      a!.client.callTool({ name: 'fixture__echo', arguments: { text: 'from a' } }),
      b!.client.callTool({ name: 'fixture__echo', arguments: { text: 'from b' } }),
    ]);
    expect(textOf(ra)).toContain('from a');
    expect(textOf(rb)).toContain('from b');
    await Promise.all([a!.close(), b!.close()]);
    const v = await runCli(['audit', 'verify', '--json', '--config', dir]);
    expect(v.code).toBe(0);
    const report = JSON.parse(v.stdout);
    expect(report.chains).toHaveLength(2);
    const q = await runCli(['audit', 'query', '--event', 'tool_result', '--json', '--config', dir]);
    expect(q.stdout.trim().split('\n')).toHaveLength(2);
  }, 120_000);

  it(`${STDIO} stdio processes and one HTTP gateway under load: every call answered, every chain verifies, query sees them all`, async () => {
    const dir = configDir({ fixture: upstreams.fixture() }, { ...ALLOW_ALL, auth: { required: false } });
    http = await httpGateway(dir);
    const started = await Promise.all(Array.from({ length: STDIO }, () => stdioAgent(dir)));
    agents.push(...started);
    for (let i = 0; i < 2; i++) httpClients.push(await httpAgent(http.url, {}, http.auth));

    const results = await Promise.all([
      ...started.map((a, i) => callMany(a.client, `stdio${i}`)),
      ...httpClients.map((c, i) => callMany(c, `http${i}`)),
    ]);
    const writers = STDIO + httpClients.length;
    expect(results.flat()).toHaveLength(writers * CALLS);
    results.forEach((answers, w) => {
      const who = w < STDIO ? `stdio${w}` : `http${w - STDIO}`;
      answers.forEach((text, i) => expect(text).toContain(`${who}-${i}`));
    });

    // every process keeps running while the CLI reads: the readers see records the writers are still adding to
    const v = await runCli(['audit', 'verify', '--json', '--config', dir]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const report = JSON.parse(v.stdout) as { ok: boolean; chains: Array<{ chain: string; ok: boolean; records: number }> };
    expect(report.chains).toHaveLength(STDIO + 1); // one per process: the HTTP gateway's sessions share its chain
    expect(report.chains.every((c) => c.ok && c.records > 0)).toBe(true);
    expect(readdirSync(join(dir, '.tollgate', 'audit', 'chains'))).toHaveLength(STDIO);

    const q = await runCli(['audit', 'query', '--event', 'tool_result', '--json', '--config', dir]);
    expect(q.code).toBe(0);
    const rows = q.stdout.trim().split('\n').map((l) => JSON.parse(l) as { time: string; sessionId: string });
    expect(rows).toHaveLength(writers * CALLS);
    expect(new Set(rows.map((r) => r.sessionId)).size).toBe(writers);
    // merged in time order across chains
    const times = rows.map((r) => Date.parse(r.time));
    expect(times).toEqual([...times].sort((x, y) => x - y));

    const stats = JSON.parse((await runCli(['audit', 'stats', '--json', '--config', dir])).stdout) as { calls: number; sessions: number };
    expect(stats.calls).toBe(writers * CALLS);
    await until(async () => JSON.parse((await runCli(['audit', 'stats', '--json', '--config', dir])).stdout).sessions >= writers, 'every session_start journaled');
  }, 300_000); // starting nine gateways (and their upstreams) through tsx on a loaded 2-core machine takes minutes
});
