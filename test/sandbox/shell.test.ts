import { readFileSync, existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, hostPidsRunning, makeWorkspace, text, type Connected, type Workspace } from './harness.js';

let w: Workspace;
let c: Connected;

beforeAll(async () => {
  w = await makeWorkspace();
  process.env.FAKE_API_TOKEN = 'planted-secret-value';
  process.env.TOLLGATE_TEST_VISIBLE = 'visible-value';
  c = await connect(w, { envAllowlist: ['TOLLGATE_TEST_*'], maxOutputBytes: 4096, defaultTimeoutSeconds: 20 });
});
afterAll(async () => {
  delete process.env.FAKE_API_TOKEN;
  delete process.env.TOLLGATE_TEST_VISIBLE;
  await c.close();
  await w.cleanup();
});

describe('shell exec through an MCP client', () => {
  it('lists exec with a description and destructive, closed-world annotations', async () => {
    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['exec']);
    expect(tools[0]!.annotations).toMatchObject({ destructiveHint: true, openWorldHint: false });
    expect(tools[0]!.description).toContain('no network access');
  });

  it('writes inside the workspace', async () => {
    const r = await c.call({ command: 'echo made-in-sandbox > out.txt && cat out.txt' });
    expect(r.isError).toBe(false);
    expect(text(r)).toContain('made-in-sandbox');
    expect(r.structuredContent).toMatchObject({ exitCode: 0, timedOut: false, truncated: false, sandboxed: true });
    expect(existsSync(path.join(w.ws, 'out.txt'))).toBe(true);
  });

  it('cannot write /etc, the host HOME, .git, .git/hooks, the dataDir or tollgate.json', async () => {
    const home = os.homedir();
    const targets = ['/etc/tollgate-probe', path.join(home, 'tollgate-probe'), '.git/config', '.git/hooks/pre-commit', 'sub/.tollgate/state.json', 'tollgate.json'];
    const script = targets.map((t) => `if echo x >> '${t}' 2>/dev/null; then echo "WROTE ${t}"; else echo "DENIED ${t}"; fi`).join('\n');
    const r = await c.call({ command: script });
    for (const t of targets) expect(text(r)).toContain(`DENIED ${t}`);
    expect(existsSync('/etc/tollgate-probe')).toBe(false);
    expect(existsSync(path.join(home, 'tollgate-probe'))).toBe(false);
    expect(existsSync(path.join(w.ws, '.git/hooks/pre-commit'))).toBe(false);
  });

  it('cannot move a protected directory away by renaming its parent', async () => {
    const r = await c.call({ command: 'mv sub sub-moved && mkdir -p sub/.tollgate && echo planted > sub/.tollgate/grants.json' });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/busy/i);
    expect(existsSync(path.join(w.ws, 'sub-moved'))).toBe(false);
  });

  it('has no capabilities: cannot remount the read-only root', async () => {
    const r = await c.call({ command: 'grep CapEff /proc/self/status; mount -o remount,rw / && touch /etc/tollgate-remounted' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('CapEff:\t0000000000000000');
    expect(existsSync('/etc/tollgate-remounted')).toBe(false);
  });

  it('$HOME inside is private and discarded', async () => {
    const r = await c.call({ command: 'echo $HOME; echo kept > "$HOME/note" && cat "$HOME/note"' });
    expect(text(r)).toContain('/tmp/home');
    expect(text(r)).toContain('kept');
    expect(existsSync(path.join(os.homedir(), 'note'))).toBe(false);
  });

  it('hides a planted *_TOKEN and passes allowlisted variables', async () => {
    const r = await c.call({ command: 'env' });
    expect(text(r)).not.toContain('FAKE_API_TOKEN');
    expect(text(r)).not.toContain('planted-secret-value');
    expect(text(r)).toContain('TOLLGATE_TEST_VISIBLE=visible-value');
  });

  it('refuses a cwd outside the roots, also through a symlink', async () => {
    await symlink('/etc', path.join(w.ws, 'etc-link'));
    const r1 = await c.call({ command: 'pwd', cwd: 'etc-link' });
    expect(r1.isError).toBe(true);
    expect(text(r1)).toContain('outside the workspace roots');
    const r2 = await c.call({ command: 'pwd', cwd: '/' });
    expect(text(r2)).toContain('outside the workspace roots');
    await mkdir(path.join(w.ws, 'inner'));
    const r3 = await c.call({ command: 'pwd', cwd: 'inner' });
    expect(text(r3)).toContain(path.join(w.ws, 'inner'));
  });

  it('rejects bad arguments naming the field', async () => {
    const r = await c.call({ command: 'true', timeoutSeconds: 'soon' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('timeoutSeconds');
  });

  it('reports a non-zero exit as an error result', async () => {
    const r = await c.call({ command: 'echo oops >&2; exit 3' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ exitCode: 3 });
    expect(text(r)).toContain('Exit code: 3');
    expect(text(r)).toContain('oops');
  });

  it('caps huge output keeping head and tail with a marker', async () => {
    const r = await c.call({ command: 'seq 1 200000' });
    const t = text(r);
    expect(r.structuredContent).toMatchObject({ truncated: true, exitCode: 0 });
    expect(t).toMatch(/\[\.\.\. \d+ bytes omitted by Tollgate \(output cap\) \.\.\.\]/);
    expect(t).toContain('\n1\n2\n3\n');
    expect(t).toContain('199999\n200000');
    expect(t.length).toBeLessThan(6000);
  });

  it('streams output lines as progress notifications', async () => {
    const messages: string[] = [];
    const r = await c.call({ command: 'for i in 1 2 3; do echo line$i; sleep 0.3; done' }, { onprogress: (p) => messages.push(p.message ?? '') });
    expect(r.isError).toBe(false);
    expect(messages.length).toBeGreaterThanOrEqual(2);
    expect(messages.join('\n')).toContain('line1');
    expect(messages.join('\n')).toContain('line3');
  });

  it('a timeout kills the whole process tree, backgrounded children included', async () => {
    const r = await c.call({ command: '(sleep 987.61; echo survived > survived.txt) & sleep 987.62', timeoutSeconds: 1 });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toMatchObject({ timedOut: true });
    expect(text(r)).toContain('Timed out after 1 s');
    expect(await hostPidsRunning('987.6')).toEqual([]);
    expect(c.events.some((e) => e.kind === 'timeout')).toBe(true);
  });

  it('cancellation kills the process tree', async () => {
    const ac = new AbortController();
    const call = c.call({ command: 'echo started; sleep 876.51 & sleep 876.52' }, { signal: ac.signal, onprogress: () => ac.abort() });
    await expect(call).rejects.toThrow();
    let left = await hostPidsRunning('876.5');
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await hostPidsRunning('876.5');
    }
    expect(left).toEqual([]);
  });
});

describe('protected paths that do not exist yet', () => {
  let w2: Workspace;
  let c2: Connected;
  beforeAll(async () => {
    w2 = await makeWorkspace();
    c2 = await connect(w2, {});
  });
  afterAll(async () => {
    await c2.close();
    await w2.cleanup();
  });
  it('an absent servers.json inside a root is created up front, so it is mounted read-only from the first run', async () => {
    const file = path.join(w2.ws, 'servers.json');
    const before = readFileSync(file, 'utf8');
    const r = await c2.call({ command: 'echo \'{"mcpServers":{"evil":{"command":"sh"}}}\' > servers.json' });
    expect(r.isError).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});

describe('read-only mode', () => {
  let w3: Workspace;
  let c3: Connected;
  beforeAll(async () => {
    w3 = await makeWorkspace();
    c3 = await connect(w3, { mode: 'read-only' });
  });
  afterAll(async () => {
    await c3.close();
    await w3.cleanup();
  });
  it('cannot write even inside the workspace, but can read it', async () => {
    const r = await c3.call({ command: 'cat tollgate.json && touch new-file' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('Read-only file system');
    expect(existsSync(path.join(w3.ws, 'new-file'))).toBe(false);
  });
});

describe('when bubblewrap is unavailable', () => {
  let w4: Workspace;
  const open: Connected[] = [];
  beforeAll(async () => {
    w4 = await makeWorkspace();
  });
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
  });
  afterAll(async () => w4.cleanup());

  it('refuses with a message that says how to fix it', async () => {
    const x = await connect(w4, {}, { bwrapPath: '/nonexistent/bwrap' });
    open.push(x);
    const r = await x.call({ command: 'touch ran.txt' });
    expect(r.isError).toBe(true);
    expect(text(r)).toContain('refused');
    expect(text(r)).toContain('apt-get install bubblewrap');
    expect(text(r)).toContain('user namespaces');
    expect(text(r)).toContain('allowUnsandboxed');
    expect(existsSync(path.join(w4.ws, 'ran.txt'))).toBe(false);
    expect(x.events.map((e) => e.kind)).toEqual(['sandbox_unavailable']);
  });

  it('with allowUnsandboxed, runs and says so on every call', async () => {
    const x = await connect(w4, { allowUnsandboxed: true, defaultTimeoutSeconds: 1 }, { bwrapPath: '/nonexistent/bwrap' });
    open.push(x);
    const r1 = await x.call({ command: 'echo unsandboxed-run' });
    const r2 = await x.call({ command: '(sleep 765.41) & sleep 765.42' });
    expect(text(r1)).toContain('UNSANDBOXED');
    expect(text(r1)).toContain('unsandboxed-run');
    expect(r1.structuredContent).toMatchObject({ sandboxed: false });
    expect(x.events.filter((e) => e.kind === 'unsandboxed')).toHaveLength(2);
    expect(r2.structuredContent).toMatchObject({ timedOut: true });
    expect(await hostPidsRunning('765.4')).toEqual([]);
  });
});
