// The staged-write apply step on hand-made layers (real tree, upper layer, merged view), no namespaces needed: which
// changes reach the real tree and which are refused. A deletion is an upper entry the merged view lacks, as a whiteout is.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyStaged, foldName, HOST_EXECUTED_NAMES, keyringFilter, protection } from '../../gateway/sandbox/index.js';
import { bwrapArgs } from '../../gateway/sandbox/bwrap.js';

let base: string;
let real: string;
let upper: string;
let merged: string;

/** Writes files (string content) and dirs (null) under a layer. */
function put(layer: string, entries: Record<string, string | null>): void {
  for (const [p, content] of Object.entries(entries)) {
    const f = path.join(layer, p);
    if (content === null) mkdirSync(f, { recursive: true });
    else {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, content);
    }
  }
}
/** A change the command made: in the upper layer and (unless deleted) in the merged view. */
function change(entries: Record<string, string | null>): void {
  put(upper, entries);
  put(merged, entries);
}
/** The real tree as it started, which the merged view also shows unless changed. */
function lower(entries: Record<string, string | null>): void {
  put(real, entries);
  put(merged, entries);
}
/** A deletion: a whiteout stand-in in the upper layer, the entry gone from the merged view. */
function whiteout(p: string): void {
  put(upper, { [p]: '' });
  rmSync(path.join(merged, p), { recursive: true, force: true });
}
const run = (protect = protection()) => applyStaged({ root: real, upper, merged, protect, protectedAbsolute: [path.join(base, 'data')] });
const tree = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => p.split(path.sep).join('/')).sort();

beforeEach(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'tollgate-apply-'));
  [real, upper, merged] = ['real', 'upper', 'merged'].map((d) => path.join(base, d)) as [string, string, string];
  for (const d of [real, upper, merged]) mkdirSync(d);
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('applyStaged', () => {
  it('creates, replaces and deletes ordinary files, keeping modes and mtimes, dropping setuid', async () => {
    lower({ 'a.txt': 'old', 'gone.txt': 'bye', 'd/keep.txt': 'k' });
    change({ 'a.txt': 'new', 'd/new.txt': 'n', 'e/f/g.txt': 'deep' });
    chmodSync(path.join(upper, 'd/new.txt'), 0o4755);
    chmodSync(path.join(merged, 'd/new.txt'), 0o4755);
    whiteout('gone.txt');
    const r = await run();
    expect(r.refused).toEqual([]);
    expect(readFileSync(path.join(real, 'a.txt'), 'utf8')).toBe('new');
    expect(existsSync(path.join(real, 'gone.txt'))).toBe(false);
    expect(readFileSync(path.join(real, 'e/f/g.txt'), 'utf8')).toBe('deep');
    expect(lstatSync(path.join(real, 'd/new.txt')).mode & 0o7777).toBe(0o755);
    expect(Math.abs(lstatSync(path.join(real, 'd/new.txt')).mtimeMs - lstatSync(path.join(merged, 'd/new.txt')).mtimeMs)).toBeLessThan(1);
    expect(tree(real)).toEqual(['a.txt', 'd', 'd/keep.txt', 'd/new.txt', 'e', 'e/f', 'e/f/g.txt']); // no temp files left behind
  });

  it('an opaque directory (removed and made again) deletes what the real one held', async () => {
    lower({ 'd/old1': '1', 'd/old2': '2' });
    rmSync(path.join(merged, 'd'), { recursive: true });
    change({ 'd/fresh': 'f' });
    await run();
    expect(tree(path.join(real, 'd'))).toEqual(['fresh']);
  });

  it('refuses a protected path created at any depth, applying its siblings', async () => {
    change({ 'pkg/.git/config': '[core]\n\tfsmonitor = touch /tmp/x\n', 'pkg/src.js': 's', 'a/b/c/.envrc': 'x' });
    const r = await run();
    expect(r.refused.map((x) => [path.relative(real, x.path), x.change])).toEqual([['a/b/c/.envrc', 'created'], ['pkg/.git', 'created']]);
    expect(tree(real)).toEqual(['a', 'a/b', 'a/b/c', 'pkg', 'pkg/src.js']);
  });

  it('refuses a modification of an existing protected file, ignores a copy-up that changed nothing', async () => {
    lower({ 'pkg/.git/config': 'orig', 'pkg/.git/HEAD': 'ref: refs/heads/main\n' });
    change({ 'pkg/.git/config': 'evil', 'pkg/.git/HEAD': 'ref: refs/heads/main\n' });
    const r = await run();
    expect(r.refused.map((x) => path.relative(real, x.path))).toEqual(['pkg/.git/config']);
    expect(readFileSync(path.join(real, 'pkg/.git/config'), 'utf8')).toBe('orig');
  });

  it('refuses deleting a protected path, also inside a deleted directory, and deletes the rest', async () => {
    lower({ 'pkg/.git/config': 'c', 'pkg/a.txt': 'a', 'pkg/sub/b.txt': 'b', 'other/.vscode/settings.json': '{}' });
    whiteout('pkg');
    whiteout('other/.vscode/settings.json');
    const r = await run();
    expect(r.refused.map((x) => [path.relative(real, x.path), x.change]).sort()).toEqual([['other/.vscode/settings.json', 'deleted'], ['pkg/.git', 'deleted']]);
    expect(tree(real)).toEqual(['other', 'other/.vscode', 'other/.vscode/settings.json', 'pkg', 'pkg/.git', 'pkg/.git/config']);
  });

  it('refuses replacing a directory that holds a protected path with a file', async () => {
    lower({ 'pkg/.git/config': 'c' });
    rmSync(path.join(merged, 'pkg'), { recursive: true });
    change({ pkg: 'now a file' });
    const r = await run();
    expect(r.refused[0]).toMatchObject({ change: 'replaced' });
    expect(readFileSync(path.join(real, 'pkg/.git/config'), 'utf8')).toBe('c');
  });

  it('refuses symlinks that point at protected paths (directly, through an existing link, or into the data dir) and applies others', async () => {
    lower({ 'pkg/.git/config': 'c', 'target.txt': 't' });
    symlinkSync('pkg', path.join(real, 'alias'));
    symlinkSync('pkg', path.join(merged, 'alias'));
    for (const [name, target] of [['ok', 'pkg/.git/config'], ['via', 'alias/.git'], ['data', path.join(base, 'data', 'state.json')], ['fine', 'target.txt'], ['up', '../.GIT/config']]) {
      symlinkSync(target!, path.join(upper, name!));
      symlinkSync(target!, path.join(merged, name!));
    }
    const r = await run();
    expect(r.refused.map((x) => path.relative(real, x.path)).sort()).toEqual(['data', 'ok', 'up', 'via']);
    expect(readlinkSync(path.join(real, 'fine'))).toBe('target.txt');
  });

  it('never follows a symlink in the real tree: one replaced by a directory is removed, not written through', async () => {
    const outside = path.join(base, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, path.join(real, 'link'));
    change({ 'link/x.txt': 'x' }); // the command removed the link and made a directory of that name
    await run();
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(path.join(real, 'link')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(real, 'link/x.txt'), 'utf8')).toBe('x');
  });

  it('refuses writes under a directory that became a symlink in the real tree during the run', async () => {
    const outside = path.join(base, 'outside');
    mkdirSync(outside);
    lower({ 'd/a': 'a' });
    change({ 'd/b': 'b' });
    rmSync(path.join(real, 'd'), { recursive: true });
    symlinkSync(outside, path.join(real, 'd'));
    const r = await run();
    expect(r.refused.map((x) => [path.relative(real, x.path), x.change])).toEqual([['d', 'replaced']]);
    expect(readdirSync(outside)).toEqual([]);
    expect(readlinkSync(path.join(real, 'd'))).toBe(outside); // the host's change stays
  });

  it('refuses everything inside a bare repository (HEAD, objects/, refs/)', async () => {
    change({ 'b/HEAD': 'ref: refs/heads/main\n', 'b/objects': null, 'b/refs': null, 'b/config': '[core]\n\tfsmonitor = touch /tmp/x\n' });
    const r = await run();
    expect(r.refused.map((x) => path.relative(real, x.path)).sort()).toEqual(['b/HEAD', 'b/config', 'b/objects', 'b/refs']);
    expect(readdirSync(path.join(real, 'b'))).toEqual([]);
  });

  it('refuses named pipes (it does not copy special files)', async () => {
    execFileSync('mkfifo', [path.join(upper, 'p'), path.join(merged, 'p')]);
    const r = await run();
    expect(r.refused[0]!.reason).toMatch(/named pipe/);
    expect(existsSync(path.join(real, 'p'))).toBe(false);
  });

  it('fails as a whole, applying nothing, when the merged view cannot be read', async () => {
    lower({ 'a.txt': 'a' });
    change({ 'b.txt': 'b' });
    await expect(applyStaged({ root: real, upper, merged: path.join(base, 'no-such-view'), protect: protection() })).rejects.toThrow();
    expect(tree(real)).toEqual(['a.txt']);
  });
});

describe('protection', () => {
  const p = protection({ patterns: ['.git/hooks', 'secrets'], prefixes: ['sub/.tollgate'] });
  it('covers every host-executed name at any depth, as file or directory and everything under it', () => {
    for (const n of HOST_EXECUTED_NAMES) {
      expect(p(n), n).toBeDefined();
      expect(p(`a/b/c/${n}`), n).toBeDefined();
      expect(p(`a/${n}/inner/file`), n).toBeDefined();
    }
    expect(p('src/index.ts')).toBeUndefined();
    expect(p('.github/workflows/ci.yml')).toBeUndefined();
    expect(p('.gitignore')).toBeUndefined();
    expect(p('git')).toBeUndefined();
  });
  it('refuses case, trailing-dot, HFS-ignored and 8.3 spellings (case-insensitive hosts)', () => {
    for (const v of ['.GIT', '.Git', 'x/.git.', '.git ', '.g\u200cit', 'GIT~1', 'x/git~2', '.VSCode', 'VSCODE~1', '.ENVRC']) expect(p(v), v).toBeDefined();
    expect(foldName('.GiT.')).toBe('.git');
  });
  it('matches relative patterns wherever their components appear, and prefixes only from the root', () => {
    expect(p('x/.git/hooks/pre-commit')).toBeDefined();
    expect(p('deep/secrets')).toBeDefined();
    expect(p('sub/.tollgate/state.json')).toMatch(/protected path sub\/.tollgate/);
    expect(p('other/sub/.tollgatex')).toBeUndefined();
  });
});

describe('keyring seccomp filter', () => {
  it('is a whole number of sock_filter instructions that first loads the architecture', () => {
    const f = keyringFilter('x64');
    expect(f.length % 8).toBe(0);
    expect(f.readUInt16LE(0)).toBe(0x20); // BPF_LD|BPF_W|BPF_ABS
    expect(f.readUInt32LE(4)).toBe(4); // offsetof(struct seccomp_data, arch)
    expect(keyringFilter('arm64').length % 8).toBe(0);
  });
  it('refuses an architecture it has no syscall table for (no sandbox without the filter)', () => {
    expect(() => keyringFilter('riscv64')).toThrow(/riscv64/);
  });
  it('is handed to bwrap', () => {
    const a = bwrapArgs({ writableRoots: ['/w'], readOnly: true, protectedPaths: [], cwd: '/w', home: '/tmp/home', seccompFd: 3, command: ['true'] });
    expect(a.join(' ')).toContain('--seccomp 3');
  });
});
