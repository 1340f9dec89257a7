// SECURITY: a command in the workspace-write profile cannot create, change or delete host-executed config anywhere under
// a root — nested repositories (`pkg/.git` with core.fsmonitor), `gitdir:` files, .envrc, .vscode/ and the like — and
// the host never sees such a file, not even for a moment: writes are staged in an overlay and checked before they are
// applied. Everything else the command wrote is applied. The read-only and writable profiles cannot reach the kernel
// keyrings (seccomp).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connect, makeWorkspace, text, type Connected, type Workspace } from '../sandbox/harness.js';
import { configDir, stdioAgent, textOf, type StdioAgent } from '../helpers/gateway.js';

let w: Workspace;
let c: Connected;
let marker: string;

/** Host-side git status in dir, as a person's shell prompt or editor would run it. */
function hostGitStatus(dir: string): void {
  try {
    execFileSync('git', ['status', '--short'], { cwd: dir, stdio: 'ignore', env: { ...process.env, GIT_CEILING_DIRECTORIES: path.dirname(w.ws) } });
  } catch {
    // not a repository (or no longer one): that is fine, only what it runs matters
  }
}

const refusedPaths = (r: CallToolResult) => ((r.structuredContent as { refused?: { path: string }[] }).refused ?? []).map((x) => path.relative(w.ws, x.path));

beforeAll(async () => {
  w = await makeWorkspace();
  marker = path.join(w.configDir, 'fsmonitor-ran');
  c = await connect(w, { defaultTimeoutSeconds: 30 });
});
afterAll(async () => {
  await c.close();
  await w.cleanup();
});

describe('nested repositories', () => {
  for (const [depth, dir] of [[1, 'pkg'], [3, 'a/b/c']] as const) {
    it(`a nested .git at depth ${depth} is refused, the host's git status there runs nothing, the other writes are applied`, async () => {
      const r = await c.call({
        command: `git init -q ${dir} && git -C ${dir} config core.fsmonitor 'touch ${marker}' && echo kept > ${dir}/file.txt && echo also > top-${depth}.txt`,
      });
      expect(r.isError, text(r)).toBe(true);
      expect(text(r)).toContain(`${path.join(w.ws, dir, '.git')} (created)`);
      expect(text(r)).toMatch(/everything else the command wrote was applied/);
      expect(existsSync(path.join(w.ws, dir, '.git'))).toBe(false);
      expect(readFileSync(path.join(w.ws, dir, 'file.txt'), 'utf8')).toBe('kept\n');
      expect(readFileSync(path.join(w.ws, `top-${depth}.txt`), 'utf8')).toBe('also\n');
      hostGitStatus(path.join(w.ws, dir));
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('a gitdir: file named .git, a bare repository and case variants are refused', async () => {
    const r = await c.call({
      command: [
        'mkdir -p g && echo "gitdir: /tmp/elsewhere" > g/.git',
        `git init -q --bare bare && git -C bare config core.fsmonitor 'touch ${marker}'`,
        'mkdir -p v1/.GIT v2/.Git && echo x > v1/.GIT/config && echo x > v2/.Git/config',
        'mkdir -p v3 && echo x > v3/GIT~1 && echo x > v3/.git. && printf x > "v3/.g\u200cit"',
        'mkdir -p x/../y/.git && echo x > y/.git/config',
        'echo fine > g/ok.txt',
      ].join(' && '),
    });
    expect(r.isError, text(r)).toBe(true);
    const refused = refusedPaths(r);
    for (const p of ['g/.git', 'v1/.GIT', 'v2/.Git', 'v3/GIT~1', 'v3/.git.', 'v3/.g\u200cit', 'y/.git']) expect(refused, text(r)).toContain(p);
    expect(refused.filter((p) => p.startsWith('bare/')).length, text(r)).toBeGreaterThan(0);
    expect(existsSync(path.join(w.ws, 'g/.git'))).toBe(false);
    expect(existsSync(path.join(w.ws, 'bare/config'))).toBe(false);
    expect(existsSync(path.join(w.ws, 'bare/HEAD'))).toBe(false);
    expect(readdirSync(path.join(w.ws, 'v3'))).toEqual([]);
    expect(readFileSync(path.join(w.ws, 'g/ok.txt'), 'utf8')).toBe('fine\n');
    hostGitStatus(path.join(w.ws, 'bare'));
    expect(existsSync(marker)).toBe(false);
  });
});

describe('editor, direnv and git attribute files', () => {
  it('.envrc, .vscode/settings.json, .idea/, .devcontainer/, .husky/, .gitattributes and .gitmodules are refused at any depth', async () => {
    const r = await c.call({
      command: [
        'echo "touch /tmp/owned" > .envrc',
        'mkdir -p .vscode deep/er/.vscode && echo "{}" > .vscode/settings.json && echo "{}" > deep/er/.vscode/tasks.json',
        'mkdir -p .idea .devcontainer .husky && touch .idea/workspace.xml .devcontainer/devcontainer.json .husky/pre-commit',
        'echo "* filter=evil" > deep/.gitattributes && echo "[submodule]" > .gitmodules',
        'echo written > deep/er/notes.txt',
      ].join(' && '),
    });
    expect(r.isError, text(r)).toBe(true);
    const refused = refusedPaths(r);
    for (const p of ['.envrc', '.vscode', 'deep/er/.vscode', '.idea', '.devcontainer', '.husky', 'deep/.gitattributes', '.gitmodules']) {
      expect(refused, text(r)).toContain(p);
      expect(existsSync(path.join(w.ws, p)), p).toBe(false);
    }
    expect(readFileSync(path.join(w.ws, 'deep/er/notes.txt'), 'utf8')).toBe('written\n');
  });
});

describe('changing what exists', () => {
  const repo = 'existing';
  const cfg = () => readFileSync(path.join(w.ws, repo, '.git', 'config'), 'utf8');
  let before: string;
  beforeAll(() => {
    execFileSync('git', ['init', '-q', path.join(w.ws, repo)]);
    writeFileSync(path.join(w.ws, repo, 'readme.txt'), 'hello\n');
    mkdirSync(path.join(w.ws, 'cfgdir', '.vscode'), { recursive: true });
    writeFileSync(path.join(w.ws, 'cfgdir', '.vscode', 'settings.json'), '{}\n');
    before = cfg();
  });

  it('deleting a nested .git or .vscode is refused; the rest of the deletion happens', async () => {
    const r = await c.call({ command: `rm -rf ${repo}/.git/config cfgdir/.vscode/settings.json && rm -f ${repo}/readme.txt` });
    expect(r.isError, text(r)).toBe(true);
    expect(refusedPaths(r)).toEqual(expect.arrayContaining([`${repo}/.git/config`, 'cfgdir/.vscode/settings.json']));
    expect(cfg()).toBe(before);
    expect(existsSync(path.join(w.ws, 'cfgdir/.vscode/settings.json'))).toBe(true);
    expect(existsSync(path.join(w.ws, repo, 'readme.txt'))).toBe(false);
  });

  it('writing through a symlink, renaming onto a protected name and hard-linking are refused', async () => {
    const r = await c.call({
      command: [
        `ln -s ${repo}/.git/config ok && printf '[core]\\n\\tfsmonitor = touch ${marker}\\n' >> ok`,
        `printf '[core]\\n\\tfsmonitor = touch ${marker}\\n' > cfg.tmp && mv cfg.tmp ${repo}/.git/config2 && cp ${repo}/.git/config2 x && mv x .envrc`,
        `ln ${repo}/.git/HEAD hl && echo 'ref: refs/heads/evil' > hl`,
        'ln -s .git/hooks hooks-link',
        'echo plain > plain.txt',
      ].join(' && '),
    });
    expect(r.isError, text(r)).toBe(true);
    const refused = refusedPaths(r);
    for (const p of ['ok', `${repo}/.git/config`, `${repo}/.git/config2`, '.envrc', `${repo}/.git/HEAD`, 'hooks-link']) expect(refused, text(r)).toContain(p);
    expect(cfg()).toBe(before);
    expect(existsSync(path.join(w.ws, 'ok'))).toBe(false);
    expect(existsSync(path.join(w.ws, '.envrc'))).toBe(false);
    expect(readFileSync(path.join(w.ws, repo, '.git', 'HEAD'), 'utf8')).not.toContain('evil');
    // The hard link's other name is applied as an independent copy: changing it later cannot reach .git/HEAD.
    expect(lstatSync(path.join(w.ws, 'hl')).nlink).toBe(1);
    expect(readFileSync(path.join(w.ws, 'plain.txt'), 'utf8')).toBe('plain\n');
    hostGitStatus(path.join(w.ws, repo));
    expect(existsSync(marker)).toBe(false);
  });

  it('renaming a directory that holds a .git keeps the repository where it was and moves the rest', async () => {
    const r = await c.call({ command: `echo again > ${repo}/readme.txt && mv ${repo} moved` });
    expect(r.isError, text(r)).toBe(true);
    expect(refusedPaths(r)).toEqual(expect.arrayContaining(['moved/.git', `${repo}/.git`]));
    expect(cfg()).toBe(before);
    expect(existsSync(path.join(w.ws, 'moved', '.git'))).toBe(false);
    expect(readFileSync(path.join(w.ws, 'moved', 'readme.txt'), 'utf8')).toBe('again\n');
    expect(existsSync(path.join(w.ws, repo, 'readme.txt'))).toBe(false);
  });
});

describe('when the host sees the writes', () => {
  it('only after the command exited: nothing lands while it runs, everything lands after', async () => {
    const probe = path.join(w.ws, 'while-running.txt');
    const seen: boolean[] = [];
    const call = c.call({ command: 'echo one > while-running.txt && echo wrote && sleep 1.5' }, { onprogress: () => seen.push(existsSync(probe)) });
    const r = await call;
    expect(r.isError, text(r)).toBe(false);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => !s)).toBe(true);
    expect(readFileSync(probe, 'utf8')).toBe('one\n');
  });

  it('a command that times out keeps what it wrote before it was killed', async () => {
    const r = await c.call({ command: 'echo partial > timed-out.txt && sleep 600', timeoutSeconds: 1 });
    expect(r.structuredContent).toMatchObject({ timedOut: true });
    expect(readFileSync(path.join(w.ws, 'timed-out.txt'), 'utf8')).toBe('partial\n');
  });
});

describe('kernel keyrings', () => {
  // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) through perl's syscall() (perl-base is Essential on Debian):
  // syscall 250 on x86-64, 219 on arm64.
  const probe = `perl -e '$n = {x86_64 => 250, aarch64 => 219}->{(POSIX::uname())[4]}; $r = syscall($n, 0, -3, 0); print "KEYCTL $r ", ($r < 0 ? "$!" : "ok"), "\\n"' -MPOSIX`;

  it('work outside the sandbox', () => {
    expect(execFileSync('bash', ['-c', probe]).toString()).toMatch(/KEYCTL \d+ ok/);
  });
  for (const profile of ['read-only', 'workspace-write'] as const) {
    it(`are out of reach in the ${profile} profile`, async () => {
      const r = await c.call({ command: probe }, undefined, profile);
      expect(text(r)).toContain('KEYCTL -1 Operation not permitted');
    });
  }
});

describe('through the gateway', () => {
  let dir: string;
  let agent: StdioAgent;
  beforeAll(async () => {
    dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] } }, { approvals: { mode: 'human' }, sandbox: { protectedPaths: ['.git/hooks', '.tollgate', 'secrets'] } });
    agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
    agent.client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { decision: 'approve_once' } }));
  });
  afterAll(async () => agent?.close());

  it('the refusal reaches the agent as an error naming the path, and the journal records it', async () => {
    const r = (await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'mkdir -p lib/.git/hooks && echo "#!/bin/sh" > lib/.git/hooks/post-checkout && echo ok > lib/index.js' } })) as CallToolResult;
    const planted = join(dir, 'workspace', 'lib', '.git');
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toContain(`${planted} (created)`);
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(join(dir, 'workspace', 'lib', 'index.js'))).toBe(true);
    const audit = join(dir, '.tollgate', 'audit');
    const events = readdirSync(audit).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(audit, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const refusal = events.find((e) => e.name === 'tollgate.upstream' && String(e.error ?? '').startsWith('protected_path_refused'));
    expect(refusal, JSON.stringify(events.map((e) => e.name))).toBeDefined();
    expect(String(refusal!.error)).toContain(planted);
  });

  it("tollgate.json's relative sandbox.protectedPaths apply at any depth under the roots", async () => {
    const r = (await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'mkdir -p app/config/secrets && echo k > app/config/secrets/key && echo v > app/config/values' } })) as CallToolResult;
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toContain(`${join(dir, 'workspace', 'app', 'config', 'secrets')} (created): it matches the protected path secrets`);
    expect(existsSync(join(dir, 'workspace', 'app', 'config', 'secrets'))).toBe(false);
    expect(readFileSync(join(dir, 'workspace', 'app', 'config', 'values'), 'utf8')).toBe('v\n');
  });
});

describe('a root inside another root', () => {
  let w2: Workspace;
  let c2: Connected;
  beforeAll(async () => {
    w2 = await makeWorkspace();
    mkdirSync(path.join(w2.ws, 'inner'));
    c2 = await connect(w2, { roots: ['.', 'inner'], protectedPaths: ['inner/guarded'] });
  });
  afterAll(async () => {
    await c2.close();
    await w2.cleanup();
  });
  it('is staged with the outer one, and a protected path inside the inner root is refused there', async () => {
    const r = await c2.call({ command: 'echo x > inner/guarded && echo y > inner/free && mkdir -p inner/n/.git' });
    expect(r.isError, text(r)).toBe(true);
    expect(text(r)).toContain(`${path.join(w2.ws, 'inner', 'guarded')} (created)`);
    expect(text(r)).toContain(`${path.join(w2.ws, 'inner', 'n', '.git')} (created)`);
    expect(existsSync(path.join(w2.ws, 'inner', 'guarded'))).toBe(false);
    expect(readFileSync(path.join(w2.ws, 'inner', 'free'), 'utf8')).toBe('y\n');
  });
});

const join = path.join;

describe('when writes cannot be staged', () => {
  let fakeBin: string;
  let savedPath: string | undefined;
  beforeAll(() => {
    // A `mount` that cannot mount overlays, found first on PATH: the machine without overlay support, simulated.
    fakeBin = path.join(w.configDir, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(path.join(fakeBin, 'mount'), '#!/bin/sh\necho "mount: unknown filesystem type overlay" >&2\nexit 32\n', { mode: 0o755 });
    savedPath = process.env.PATH;
    process.env.PATH = `${fakeBin}:${savedPath}`;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
  });

  it('the writable profile refuses to run, naming why; the read-only profile still runs', async () => {
    const r = await c.call({ command: 'echo ran > staged-or-nothing.txt' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('refused to run this command');
    expect(text(r)).toContain('unknown filesystem type overlay');
    expect(text(r)).toContain('Tollgate never writes to a root without staging');
    expect(existsSync(path.join(w.ws, 'staged-or-nothing.txt'))).toBe(false);
    expect(c.events.some((e) => e.kind === 'sandbox_unavailable' && e.detail.includes('overlay'))).toBe(true);
    const ro = await c.call({ command: 'echo still-reads' }, undefined, 'read-only');
    expect(text(ro)).toContain('still-reads');
  });
});
