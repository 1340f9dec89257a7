// `tollgate serve`: loads config, wires policy, review, audit and upstreams into one Gateway, and listens.
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { Gateway, isLoopbackHost } from './server/index.js';
import { canonicalJson, loadRegistry, type ValueRef } from './upstreams/index.js';
import type { Ports, SessionContextPort } from './ports.js';

export interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export async function resolveDirs(config: string | undefined, io: Io): Promise<{ configDir: string; dataDir: string; stateDir: string }> {
  const configDir = resolve(io.cwd, config ?? '.');
  const dataDir = io.env.TOLLGATE_DATA_DIR ? resolve(io.cwd, io.env.TOLLGATE_DATA_DIR) : join(configDir, '.tollgate');
  const stateDir = join(dataDir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return { configDir, dataDir, stateDir };
}

export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (!m) throw new UsageError(`--http expects HOST:PORT (e.g. 127.0.0.1:7777), got "${spec}"`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--http port ${port} is out of range (0-65535)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

async function resolveValue(ref: ValueRef, where: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined) throw new Error(`${where}: environment variable ${ref.env} is not set`);
    return v;
  }
  throw new Error(`${where}: secret "${ref.secret}" cannot be resolved (no secret store configured)`);
}

/** Keeps the last few calls of a session for the reviewer; replaced by review/'s SessionContext once wired. */
class MinimalContext implements SessionContextPort {
  recordUserPrompt(): void {}
  recordCall(): void {}
  recordResult(): void {}
}

export async function serve(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, stdio: { type: 'boolean' }, http: { type: 'string' } },
    strict: true,
  });
  if (values.stdio && values.http) throw new UsageError('choose one of --stdio or --http HOST:PORT');
  const { configDir, stateDir } = await resolveDirs(values.config, io);
  const log = (line: string) => io.stderr.write(`tollgate: ${line}\n`);
  const separator = '__';
  const registry = await loadRegistry(configDir, separator);
  for (const w of registry.warnings) log(w);

  const ports: Ports = {
    policy: { evaluate: () => ({ decision: 'allow', reasons: ['no policy configured'], matched: [] }), version: () => 'none' },
    audit: { record: async () => undefined },
    grants: { consume: () => undefined, grant: () => undefined },
    escalate: async () => ({ decision: 'unavailable', channel: 'none', waitMs: 0 }),
    digest: (args) => createHash('sha256').update(canonicalJson(args)).digest('hex'),
    denialMessage: ({ by, tool, reasons }) =>
      `Tollgate denied "${tool}" (decided by ${by}): ${reasons.join('; ')}. Do not try to work around this denial with other tools or commands; ask the user instead.`,
  };

  const gateway = new Gateway({
    registry,
    separator,
    stateDir,
    ports,
    mode: () => 'auto-review',
    newContext: () => new MinimalContext(),
    resolveValue: (ref, where) => resolveValue(ref, where, io.env),
    log,
  });
  await gateway.start();

  let stop: () => Promise<void>;
  if (values.stdio) {
    await gateway.serveStdio({ identity: `local:${userInfo().username}`, groups: [] });
    stop = () => gateway.close();
    log('serving MCP on stdio');
  } else {
    const { host, port } = parseListen(values.http ?? '127.0.0.1:7777');
    if (!isLoopbackHost(host)) throw new UsageError(`refusing to listen on ${host}: non-loopback addresses need agent authentication configured in tollgate.json (auth)`);
    const http = await gateway.serveHttp({ host, port, sessionIdleMs: 30 * 60_000, maxBodyBytes: 4 * 1024 * 1024 });
    log(`serving MCP at ${http.url}`);
    stop = async () => {
      await http.close();
      await gateway.close();
    };
  }
  await new Promise<void>((done) => {
    const shutdown = (sig: string) => {
      log(`${sig}: shutting down`);
      void stop().finally(done);
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    if (values.stdio) process.stdin.once('end', () => shutdown('stdin closed'));
  });
  return 0;
}


