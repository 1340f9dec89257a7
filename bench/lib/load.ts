// Load shapes: timed call loops on one client, and many concurrent HTTP sessions that each make a few calls.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { cpuMicros, httpClient, type HttpConn } from './procs.js';
import { summarize, round, type Summary } from './stats.js';

async function oneCall(client: Client, tool: string, i: number, args?: Record<string, unknown>): Promise<boolean> {
  const r = await client.request({ method: 'tools/call', params: { name: tool, arguments: args ?? { n: i } } }, CallToolResultSchema, { timeout: 30_000 });
  return r.isError !== true;
}

/** CPU time of every process a call passes through: the agent (this process) and each named group of pids. */
function cpuSnapshot(groups: Record<string, number[]>): Record<string, number> {
  const u = process.cpuUsage();
  const out: Record<string, number> = { agent: u.user + u.system };
  for (const [name, pids] of Object.entries(groups)) out[name] = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  return out;
}

/**
 * `concurrency` callers on one client for `warmupMs` (discarded) then `measureMs`. `pid`: the measured process
 * (cpuUsPerCall); `processes`: every process on the call's path, by role, for the CPU budget (cpuByProcessUs).
 */
export async function timedCalls(
  client: Client,
  tool: string,
  opts: { concurrency: number; warmupMs: number; measureMs: number; pid?: number; processes?: () => Record<string, number[]>; args?: Record<string, unknown> },
): Promise<Summary> {
  const run = async (ms: number, record: boolean) => {
    const lat: number[] = [];
    let errors = 0;
    const end = performance.now() + ms;
    let i = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < end) {
          const s = performance.now();
          const ok = await oneCall(client, tool, i++, opts.args).catch(() => false);
          if (!record) continue;
          if (ok) lat.push(performance.now() - s);
          else errors++;
        }
      }),
    );
    return { lat, errors, seconds: (performance.now() - t0) / 1000 };
  };
  await run(opts.warmupMs, false);
  const cpu0 = opts.pid ? cpuMicros(opts.pid) : 0;
  const groups = opts.processes?.() ?? {};
  const all0 = cpuSnapshot(groups);
  const r = await run(opts.measureMs, true);
  const all1 = cpuSnapshot(groups);
  const summary = summarize(r.lat, r.errors, r.seconds);
  const n = r.lat.length + r.errors;
  if (opts.pid && n) summary.cpuUsPerCall = round((cpuMicros(opts.pid) - cpu0) / n, 0);
  if (n) {
    summary.cpuByProcessUs = Object.fromEntries(Object.keys(all1).map((k) => [k, round((all1[k]! - all0[k]!) / n, 0)]));
    summary.cpuTotalUsPerCall = Object.values(summary.cpuByProcessUs).reduce((a, b) => a + b, 0);
  }
  return summary;
}

export interface ScalingRow extends Summary {
  sessions: number;
  callsPerSession: number;
  openSeconds: number;
  openErrors: number;
}

/**
 * Opens `sessions` HTTP sessions at once (initialize + tools/list each), then every session makes
 * `callsPerSession` calls one after another, all sessions concurrently; then ends them all (DELETE).
 */
export async function sessionScaling(url: string, headers: Record<string, string>, tool: string, sessions: number, callsPerSession: number): Promise<ScalingRow> {
  const t0 = performance.now();
  let openErrors = 0;
  const conns = (
    await Promise.all(
      Array.from({ length: sessions }, async () => {
        try {
          const c = await httpClient(url, headers);
          await c.client.listTools(undefined, { timeout: 60_000 });
          return c;
        } catch {
          openErrors++;
          return undefined;
        }
      }),
    )
  ).filter((c): c is HttpConn => !!c);
  const openSeconds = (performance.now() - t0) / 1000;

  const lat: number[] = [];
  let errors = 0;
  const t1 = performance.now();
  await Promise.all(
    conns.map(async (c, k) => {
      for (let i = 0; i < callsPerSession; i++) {
        const s = performance.now();
        const ok = await oneCall(c.client, tool, k * callsPerSession + i).catch(() => false);
        if (ok) lat.push(performance.now() - s);
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - t1) / 1000;
  await Promise.all(conns.map((c) => c.close()));
  return { sessions, callsPerSession, openSeconds: round(openSeconds, 2), openErrors, ...summarize(lat, errors, seconds) };
}

/** Opens `n` sessions (initialize + tools/list) and keeps them idle; returns them for closing. */
export async function openIdle(url: string, headers: Record<string, string>, n: number): Promise<{ conns: HttpConn[]; errors: number }> {
  let errors = 0;
  const conns: HttpConn[] = [];
  // in batches, so opening is not itself the thing measured
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        try {
          const c = await httpClient(url, headers);
          await c.client.listTools();
          return c;
        } catch {
          errors++;
          return undefined;
        }
      }),
    );
    for (const c of batch) if (c) conns.push(c);
  }
  return { conns, errors };
}
