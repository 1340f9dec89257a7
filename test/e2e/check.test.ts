// `tollgate check` reads servers.json like serve does: shell upstreams are analysed as shell scripts,
// and per-tool decisions apply.
import { describe, expect, it } from 'vitest';
import { configDir, runCli } from '../helpers/gateway.js';

describe('tollgate check with servers.json', () => {
  const dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] }, docs: { url: 'http://127.0.0.1:9/mcp', toolDecisions: { 'delete_*': 'deny' } } });

  it('analyses a shell tool call as a script', async () => {
    const safe = await runCli(['check', '--json', '--config', dir, '--tool', 'sh__exec', '--args', '{"command":"git log --oneline | head"}']);
    expect(JSON.parse(safe.stdout)).toMatchObject({ decision: 'allow' });
    const risky = await runCli(['check', '--json', '--config', dir, '--tool', 'sh__exec', '--args', '{"command":"ls && rm -rf build"}']);
    expect(JSON.parse(risky.stdout).decision).toBe('ask');
  });

  it('applies per-tool decisions from servers.json, and names them', async () => {
    const r = await runCli(['check', '--json', '--config', dir, '--tool', 'docs__delete_page', '--args', '{}']);
    const v = JSON.parse(r.stdout);
    expect(v.decision).toBe('deny');
    expect(v.matched).toEqual(['servers.json docs.toolDecisions["delete_*"]']);
  });

  it('does the same for every line of --batch', async () => {
    const r = await runCli(['check', '--batch', '--config', dir], { input: '{"tool":"sh__exec","args":{"command":"cat README.md"}}\n{"tool":"docs__delete_x","args":{}}\n' });
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).decision)).toEqual(['allow', 'deny']);
  });
});
