// Child processes in tests and benchmarks: run one to completion, or wait for it to announce it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Announcement {
  /** The first match of the pattern in what the stream printed. */
  match: Promise<RegExpExecArray>;
  /** Everything the stream printed so far (up to `keep` characters), before and after the match. */
  output(): string;
}

/**
 * Watches `stream` of `proc` for `pattern`. Rejects, naming `what` and quoting the output, if the process exits or
 * `timeoutMs` passes first. Keeps collecting after the match, so the output can be asserted on later.
 */
export function announcement(
  proc: ChildProcess,
  stream: Readable,
  pattern: RegExp,
  opts: { what: string; timeoutMs?: number; keep?: number; tee?: (chunk: Buffer) => void },
): Announcement {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let seen = '';
  const match = new Promise<RegExpExecArray>((ok, fail) => {
    let found = false;
    const timer = setTimeout(() => fail(new Error(`${opts.what} did not start within ${timeoutMs / 1000} s: ${seen}`)), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      opts.tee?.(chunk);
      if (seen.length < (opts.keep ?? Infinity)) seen += chunk.toString();
      const m = found ? null : pattern.exec(seen);
      if (m) {
        found = true;
        clearTimeout(timer);
        ok(m);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      if (!found) fail(new Error(`${opts.what} exited (code ${code}) before starting: ${seen}`));
    });
  });
  return { match, output: () => seen };
}

/** Runs `command args` to completion with `input` on stdin; its exit code (-1 if killed by a signal) and output. */
export function runProcess(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}
