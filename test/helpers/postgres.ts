// A real PostgreSQL server for tests: initdb into a temp dir, a free loopback port, run as an unprivileged user.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { announcement } from './process.js';

export interface PgServer {
  /** postgres://tollgate@127.0.0.1:PORT/postgres (trust auth on loopback) */
  url: string;
  port: number;
  /** The postmaster's pid (its children are the backends), while running. */
  readonly pid: number;
  /** A fresh database on this server, for a test that wants its own schema. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (SIGINT: fast shutdown) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir (after stop). */
  start(): Promise<void>;
  /** Stops it and removes its data dir. */
  destroy(): Promise<void>;
}

/** The newest Debian PostgreSQL binaries (`/usr/lib/postgresql/<n>/bin`), or $TOLLGATE_PG_BIN. */
export function pgBinDir(): string {
  if (process.env.TOLLGATE_PG_BIN) return process.env.TOLLGATE_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!dir) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install the Debian "postgresql" package; .ci/run does)');
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** Root may not run postgres: run it as the `postgres` OS user (Debian's package creates it). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres']);
  const g = spawnSync('id', ['-g', 'postgres']);
  if (r.status !== 0) throw new Error('running as root and there is no "postgres" user to run the test database as');
  return { uid: Number(r.stdout.toString().trim()), gid: Number(g.stdout.toString().trim()) };
}

export async function startPostgres(): Promise<PgServer> {
  const bin = pgBinDir();
  const as = runAs();
  const base = mkdtempSync(join(tmpdir(), 'tollgate-pg-'));
  const data = join(base, 'data');
  if (as) chownSync(base, as.uid, as.gid);
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'tollgate', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], { cwd: base, ...(as ?? {}), encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
  const port = await freePort();
  let proc: ChildProcess | undefined;

  const start = async () => {
    proc = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${base}`, '-c', 'fsync=on', '-c', 'max_connections=200'], { cwd: base, ...(as ?? {}), stdio: ['ignore', 'ignore', 'pipe'] });
    const ready = announcement(proc, proc.stderr!, /database system is ready to accept connections/, { what: 'postgres', timeoutMs: 30_000, keep: 64 * 1024 });
    await ready.match;
  };
  const stop = () =>
    new Promise<void>((done) => {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return done();
      p.once('exit', () => done());
      p.kill('SIGINT');
    });
  await start();
  const url = `postgres://tollgate@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    get pid() {
      return proc?.pid ?? -1;
    },
    async createDatabase(name) {
      const r = spawnSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'tollgate', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8', ...(as ?? {}), cwd: base });
      if (r.status !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`);
      return `postgres://tollgate@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    async destroy() {
      await stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** For messages: who runs the tests. */
export const testUser = () => userInfo().username;
