// Runs the official MCP conformance suite (server mode) through the gateway in front of our fixture upstream, or (--direct) against the fixture alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { judge, namingProblems, parseBaseline, readResults } from './baseline.js';
import { announcement } from '../helpers/process.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const TSX = join(repo, 'node_modules/tsx/dist/esm/index.mjs');
const SUITE = join(repo, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BASELINE = join(here, 'expected-failures.yml');

const { values } = parseArgs({
  options: {
    direct: { type: 'boolean', default: false },
    suite: { type: 'string', default: 'all' },
    scenario: { type: 'string' },
    /** Root of the gateway checkout to run (default: this repository). */
    'gateway-root': { type: 'string' },
    'keep-results': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

const work = mkdtempSync(join(tmpdir(), 'tollgate-conformance-'));
const resultsDir = join(work, 'results');
const started: ChildProcess[] = [];
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Starts a process and resolves with the URL it prints on stderr as "serving MCP at URL". */
function startServer(label: string, cmd: string, args: string[], cwd: string): Promise<string> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env } });
  started.push(child);
  const log = createWriteStream(join(work, `${label}.stderr.log`));
  const ready = announcement(child, child.stderr!, /serving MCP at (http:\/\/\S+\/mcp)/, { what: label, timeoutMs: 60_000, keep: 20_000, tee: (b) => log.write(b) });
  return ready.match.then((m) => m[1]!);
}

/** The suite needs Node >= 22: this node if it is new enough, else $CONFORMANCE_NODE, else node@22 through npx. */
function suiteCommand(): [string, string[]] {
  if (Number(process.versions.node.split('.')[0]) >= 22) return [process.execPath, []];
  if (process.env.CONFORMANCE_NODE) return [process.env.CONFORMANCE_NODE, []];
  return ['npx', ['-y', '-p', 'node@22', 'node']];
}

function runSuite(url: string): Promise<number> {
  const [cmd, pre] = suiteCommand();
  const args = [...pre, SUITE, 'server', '--url', url, '-o', resultsDir, '--expected-failures', BASELINE];
  if (values.scenario) args.push('--scenario', values.scenario);
  else args.push('--suite', values.suite!);
  const out = createWriteStream(join(work, 'suite.log'));
  const child = spawn(cmd, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  if (values.verbose) {
    child.stdout!.pipe(process.stdout);
    child.stderr!.pipe(process.stderr);
  }
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      ok(signal ? 124 : (code ?? 1));
    });
  });
}

function gatewayConfig(): string {
  const dir = join(work, 'config');
  const fixture = join(repo, 'test/fixtures/conformance-upstream.ts');
  // The scenarios call bare names (test_simple_text, test_simple_prompt), so the fixture's server has an empty prefix.
  const servers = { mcpServers: { conf: { prefix: '', command: process.execPath, args: ['--import', TSX, fixture] } } };
  // Loopback without agent tokens, and every fixture call allowed: the suite tests the MCP plumbing, not the policy.
  const tollgate = { auth: { required: false }, rules: [{ server: 'conf', decision: 'allow', justification: 'conformance fixture: every tool is harmless' }] };
  mkdirSync(dir);
  writeFileSync(join(dir, 'servers.json'), JSON.stringify(servers, null, 2));
  writeFileSync(join(dir, 'tollgate.json'), JSON.stringify(tollgate, null, 2));
  return dir;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const baseline = parseBaseline(BASELINE, readFileSync(BASELINE, 'utf8'));
  let url: string;
  if (values.direct) {
    url = await startServer('direct', process.execPath, ['--import', TSX, join(here, 'direct.ts'), '127.0.0.1:0'], repo);
  } else {
    const root = resolve(values['gateway-root'] ?? repo);
    const config = gatewayConfig();
    url = await startServer('gateway', process.execPath, ['--import', TSX, join(root, 'gateway/main.ts'), 'serve', '--http', '127.0.0.1:0', '--config', config], root);
  }
  const target = values.direct ? 'fixture upstream directly' : 'gateway -> fixture upstream';
  say(`conformance: ${target} at ${url}`);

  const suiteExit = await runSuite(url);
  const results = readResults(resultsDir);
  if (!results.length) {
    say(`conformance: the suite produced no results (exit ${suiteExit}); log:\n${readFileSync(join(work, 'suite.log'), 'utf8').slice(-4000)}`);
    return 1;
  }
  const v = judge(results, values.scenario ? baseline.filter((s) => s === values.scenario) : baseline);
  const naming = namingProblems(results);

  for (const r of results) {
    if (!v.failed.includes(r.scenario)) continue;
    const mark = v.expectedFailures.includes(r.scenario) ? '~ expected' : 'x UNEXPECTED';
    say(`${mark} failure: ${r.scenario}`);
    for (const c of r.checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')) say(`    ${c.status} ${c.id}: ${c.errorMessage ?? ''}`);
  }
  for (const s of v.unexpectedPasses) say(`x UNEXPECTED pass: ${s} is in ${BASELINE} but passes; remove it`);
  // Only a full run can tell a stale entry from a scenario this suite selection skipped.
  const fullRun = !values.scenario && values.suite === 'all';
  if (fullRun) for (const s of v.unknownEntries) say(`x baseline entry "${s}" names no scenario that ran`);
  for (const p of naming) say(`x naming: ${p}`);

  say(`conformance (${target}): ${v.passed.length} passed, ${v.failed.length} failed (${v.expectedFailures.length} expected) of ${results.length} scenarios; checks: ${v.checksPassed} passed, ${v.checksFailed} failed, ${v.checksWarned} warnings; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const ours = v.unexpectedFailures.length || v.unexpectedPasses.length || naming.length || (fullRun && v.unknownEntries.length) ? 1 : 0;
  if (ours !== (suiteExit === 0 ? 0 : 1)) say(`conformance: note: the suite's own baseline check exited ${suiteExit}`);
  return ours || (suiteExit === 0 ? 0 : 1);
}

let code = 1;
try {
  code = await main();
} catch (e) {
  say(`conformance: ${(e as Error).message}`);
} finally {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  if (code !== 0 || values['keep-results']) say(`conformance: logs and checks.json kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exit(code);
