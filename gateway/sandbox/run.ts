// Running one command: under bubblewrap (or, only when the admin allowed it, without), with a
// timeout that kills the whole process tree, capped output and cancellation.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, chmod, lstat, mkdtemp, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bwrapArgs, isInside } from './bwrap.js';
import type { EgressProxy } from './egress.js';
import { HeadTail } from './output.js';

export type SandboxProbe = { ok: true; bwrap: string } | { ok: false; reason: string; fix: string };

export type SandboxNetwork = { kind: 'none' } | { kind: 'proxy'; proxy: EgressProxy };

export interface RunOptions {
  script: string;
  cwd: string;
  writableRoots: string[];
  readOnly: boolean;
  protectedPaths: string[];
  network: SandboxNetwork;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  unsandboxed?: boolean;
  /** bwrap binary to use (absolute path or name looked up on PATH); default `bwrap`. */
  bwrapPath?: string;
  /** Paths the command must not see (Tollgate's data, credential stores…); absent ones are skipped. */
  denyRead?: string[];
  /** Protected paths created by the command (where none existed) that Tollgate removed afterwards. */
  onProtectedPathCreated?: (p: string) => void;
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
}

export const SANDBOX_FIX =
  'Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), ' +
  'make sure unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ ' +
  'also kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap), or — accepting the risk — ' +
  'set "allowUnsandboxed": true on the shell server in servers.json.';

/** Thrown when the sandbox cannot be set up; the message says how to fix it. */
export class SandboxUnavailable extends Error {
  constructor(readonly reason: string, readonly fix: string = SANDBOX_FIX) {
    super(`The sandbox is unavailable: ${reason}. ${fix}`);
    this.name = 'SandboxUnavailable';
  }
}

async function findExecutable(name: string, envPath: string | undefined): Promise<string | undefined> {
  const candidates = name.includes('/') ? [name] : (envPath ?? '').split(':').filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      await access(c, fsc.X_OK);
      if ((await stat(c)).isFile()) return path.resolve(c);
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

function collect(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: null, signal: null, stderr: err.message }));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Starts a trivial sandbox with the same namespaces a real run uses; ok only if that works. */
export async function probeSandbox(opts: { bwrapPath?: string; envPath?: string } = {}): Promise<SandboxProbe> {
  const bwrap = await findExecutable(opts.bwrapPath ?? 'bwrap', opts.envPath ?? process.env.PATH);
  if (!bwrap) {
    return { ok: false, reason: `bubblewrap (${opts.bwrapPath ?? 'bwrap'}) was not found${opts.bwrapPath?.includes('/') ? '' : ' on PATH'}`, fix: SANDBOX_FIX };
  }
  const child = spawn(bwrap, ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', '--cap-drop', 'ALL', '--die-with-parent', '--new-session', '--', 'true'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const r = await collect(child);
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n')[0] || `exit ${r.code ?? r.signal}`;
    return { ok: false, reason: `bubblewrap could not create a sandbox (${why.slice(0, 300)})`, fix: SANDBOX_FIX };
  }
  return { ok: true, bwrap };
}

/** Existing real path, or undefined. */
async function real(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

/** For a path that does not exist yet: real path of its nearest existing ancestor + the rest. */
async function projectedReal(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let d = abs; ; d = path.dirname(d)) {
    const r = await real(d);
    if (r !== undefined) return path.join(r, ...rest);
    if (d === path.dirname(d)) return abs;
    rest.unshift(path.basename(d));
  }
}

let emptyFile: Promise<string> | undefined;
/** One empty, read-only file per process, bound over every hidden file. */
function theEmptyFile(): Promise<string> {
  emptyFile ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-empty-'));
    const f = path.join(dir, 'empty');
    await writeFile(f, '', { mode: 0o444 });
    await chmod(dir, 0o555);
    return f;
  })();
  return emptyFile;
}

/** Real paths of the deny-read entries that exist, and whether each is a directory. */
async function hiddenPaths(paths: readonly string[]): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  for (const p of new Set(paths)) {
    const r = await real(p);
    if (r === undefined || r === '/') continue;
    const st = await stat(r).catch(() => undefined);
    if (st) out.push({ path: r, dir: st.isDirectory() });
  }
  return out;
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  // The child leads its own process group; under bwrap, killing it also tears down the pid namespace.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * Runs `bash -c script`. Sandboxed unless opts.unsandboxed (the caller decides whether the admin
 * allowed that). Throws SandboxUnavailable when bubblewrap is missing; never runs unsandboxed on its own.
 */
export async function runSandboxed(opts: RunOptions): Promise<RunResult> {
  const started = performance.now();
  const cwd = await real(opts.cwd);
  if (!cwd) throw new Error(`working directory ${opts.cwd} does not exist`);
  const writableRoots = (await Promise.all(opts.writableRoots.map(real))).filter((r): r is string => r !== undefined);

  // .git (and its hooks) of every root stays read-only: hooks and config there run code later, outside.
  const wanted = [...opts.protectedPaths, ...opts.writableRoots.flatMap((r) => [path.join(r, '.git'), path.join(r, '.git', 'hooks')])];
  const existing: string[] = [];
  const absent: string[] = [];
  for (const p of wanted) {
    const r = await real(p);
    if (r !== undefined) existing.push(r);
    else absent.push(await projectedReal(p));
  }
  // Absent protected paths inside a writable root cannot be mounted; they are checked after the run.
  const watched = opts.readOnly ? [] : absent.filter((p) => writableRoots.some((r) => isInside(p, r)));

  const env: Record<string, string> = { ...opts.env, TMPDIR: '/tmp' };
  let file: string;
  let args: string[];
  if (opts.unsandboxed) {
    file = 'bash';
    args = ['-c', opts.script];
    if (opts.network.kind === 'proxy') {
      for (const n of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) env[n] = opts.network.proxy.url;
      env.NO_PROXY = env.no_proxy = '';
    }
  } else {
    const bwrap = await findExecutable(opts.bwrapPath ?? 'bwrap', process.env.PATH);
    if (!bwrap) throw new SandboxUnavailable(`bubblewrap (${opts.bwrapPath ?? 'bwrap'}) was not found`);
    const home = '/tmp/home';
    env.HOME = home;
    let command = ['bash', '-c', opts.script];
    if (opts.network.kind === 'proxy') {
      env.TOLLGATE_EGRESS_SOCKET = opts.network.proxy.socketPath;
      command = [process.execPath, opts.network.proxy.bridgePath, ...command];
    }
    file = bwrap;
    args = bwrapArgs({
      writableRoots,
      readOnly: opts.readOnly,
      protectedPaths: existing,
      hidden: await hiddenPaths(opts.denyRead ?? []),
      emptyFile: await theEmptyFile(),
      cwd,
      home,
      command,
      ...(opts.network.kind === 'proxy' ? { egressDir: opts.network.proxy.dir } : {}),
    });
  }

  const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out = new HeadTail(opts.maxOutputBytes);
  const err = new HeadTail(opts.maxOutputBytes);
  child.stdout!.on('data', (d: Buffer) => {
    out.push(d);
    opts.onOutput?.(d.toString('utf8'), 'stdout');
  });
  child.stderr!.on('data', (d: Buffer) => {
    err.push(d);
    opts.onOutput?.(d.toString('utf8'), 'stderr');
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child);
  }, opts.timeoutMs);
  const onAbort = () => killTree(child);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('exit', (code, signal) => {
      // Unsandboxed, an escaped grandchild may hold the pipes open; do not wait on it forever.
      const grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({ code, signal });
      }, 500);
      child.once('close', () => {
        clearTimeout(grace);
        resolve({ code, signal });
      });
    });
  });
  clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  if (!opts.unsandboxed) killTree(child); // the namespace is already gone; this reaps any straggler group

  for (const p of watched) {
    if (await real(p) === undefined && !(await lstat(p).catch(() => undefined))) continue;
    // Only remove when the parent still resolves where it did before the run (no symlink swapped in).
    if ((await real(path.dirname(p))) === path.dirname(p)) {
      await rm(p, { recursive: true, force: true });
      opts.onProtectedPathCreated?.(p);
    } else {
      opts.onProtectedPathCreated?.(p);
    }
  }

  if (status.spawnError) {
    if ((status.spawnError as NodeJS.ErrnoException).code === 'ENOENT' && !opts.unsandboxed) throw new SandboxUnavailable('bubblewrap could not be started');
    throw status.spawnError;
  }
  const o = out.result();
  const e = err.result();
  return {
    exitCode: status.code,
    signal: status.signal,
    stdout: o.text,
    stderr: e.text,
    truncated: o.truncated || e.truncated,
    timedOut,
    durationMs: Math.round(performance.now() - started),
  };
}
