import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { proposeRule } from '../../gateway/policy/amend.js';
import { addRule, proposalFits } from '../../gateway/policy/amend-file.js';
import { evaluate, initPolicy, loadEffectiveConfig, TollgateConfigSchema, type PolicyCall } from '../../gateway/policy/index.js';

beforeAll(() => initPolicy());

const config = TollgateConfigSchema.parse({
  rules: [
    { id: 'ask-deploy', tool: 'ci__deploy', decision: 'ask' },
    { id: 'no-force', shell: ['git', 'push', '*', '--force'], decision: 'deny' },
  ],
});
const mcp = (tool: string, args: Record<string, unknown> = {}): PolicyCall => ({ server: tool.split('__')[0]!, tool: tool.split('__')[1]!, args, kind: 'mcp' });
const shell = (command: string): PolicyCall => ({ server: 'shell', tool: 'run', args: { command }, kind: 'shell' });
const alice = { identity: 'token:alice', groups: [] };

describe('proposeRule', () => {
  it('offers an allow rule for exactly this MCP tool and identity, which really turns the call into allow', () => {
    const call = mcp('gh__create_issue', { title: 'x' });
    expect(evaluate(call, config, alice).decision).toBe('review');
    const p = proposeRule(call, config, alice);
    if (!('rule' in p)) throw new Error(p.none);
    expect(p.rule).toMatchObject({ tool: 'gh__create_issue', decision: 'allow', identities: ['token:alice'] });
    expect(p.text).toBe('always allow gh__create_issue with any arguments for token:alice');
    expect(evaluate(call, { ...config, rules: [...config.rules, p.rule] }, alice).decision).toBe('allow');
    // another identity is not covered by it
    expect(evaluate(call, { ...config, rules: [...config.rules, p.rule] }, { identity: 'token:bob' }).decision).toBe('review');
  });

  it('offers nothing when another rule would still ask (strictest wins), and says why', () => {
    const p = proposeRule(mcp('ci__deploy'), config, alice);
    expect(p).toEqual({ none: expect.stringContaining('would be "ask"') });
  });

  it('offers a program + subcommand prefix in the writable sandbox for one shell command', () => {
    const p = proposeRule(shell('npm test -- --watch=false'), config, alice);
    if (!('rule' in p)) throw new Error(p.none);
    expect(p.rule).toMatchObject({ shell: ['npm', 'test'], decision: 'allow', sandbox: 'workspace-write', match: ['npm test'] });
    const amended = { ...config, rules: [...config.rules, p.rule] };
    expect(evaluate(shell('npm test -- --watch=false'), amended, alice)).toMatchObject({ decision: 'allow', sandbox: 'workspace-write' });
    expect(evaluate(shell('npm install left-pad'), amended, alice).decision).not.toBe('allow');
  });

  it.each([
    ['python3 script.py', 'runs whatever follows'],
    ['node server', 'runs whatever follows'],
    ['python3.12 -m http.server', 'runs whatever follows'],
    ['sudo apt install x', ''],
    ['env FOO=1 make build', ''],
    ['git -c core.pager=evil log', 'would allow far more'],
    ['rm -rf build', ''],
    ['bash -c "echo hi"', ''],
    ['cd sub && make build', 'several'],
    ['git push origin --force', ''],
    ['$CMD run', ''],
  ])('offers no rule for %s', (command, why) => {
    const p = proposeRule(shell(command), config, alice);
    expect('none' in p, JSON.stringify(p)).toBe(true);
    if (why) expect((p as { none: string }).none).toContain(why);
  });

  it('never writes argument text that looks like a secret into a rule', () => {
    const p = proposeRule(shell('deploytool ghp_abcdefghijklmnopqrstuvwxyz0123456789 now'), config, alice);
    if ('rule' in p) expect(JSON.stringify(p.rule)).not.toContain('ghp_');
  });

  it('proposalFits accepts only an allow rule for exactly the item', () => {
    expect(proposalFits({ tool: 'gh__x', decision: 'allow' }, { tool: 'gh__x', arguments: {} })).toBeUndefined();
    expect(proposalFits({ tool: 'gh__*', decision: 'allow' }, { tool: 'gh__x', arguments: {} })).toMatch(/exactly this tool/);
    expect(proposalFits({ tool: 'gh__x', decision: 'deny' }, { tool: 'gh__x', arguments: {} })).toMatch(/does not allow/);
    expect(proposalFits({ shell: ['npm', 'test'], decision: 'allow' }, { tool: 'shell__run', arguments: { command: 'npm test' } })).toBeUndefined();
    expect(proposalFits({ shell: ['npm', '*'], decision: 'allow' }, { tool: 'shell__run', arguments: { command: 'npm test' } })).toMatch(/plain prefix/);
    expect(proposalFits({ shell: ['rm'], decision: 'allow' }, { tool: 'shell__run', arguments: { command: 'npm test' } })).toMatch(/does not name/);
    expect(proposalFits({ shell: ['npm', 'test'], decision: 'allow' }, { tool: 'shell__run', arguments: { command: 'npm testevil' } })).toMatch(/does not name/);
    // a planted item cannot widen who or what the rule covers
    expect(proposalFits({ tool: 'gh__x', decision: 'allow', identities: ['token:alice'] }, { tool: 'gh__x', identity: 'token:alice', arguments: {} })).toBeUndefined();
    expect(proposalFits({ tool: 'gh__x', decision: 'allow' }, { tool: 'gh__x', identity: 'token:alice', arguments: {} })).toMatch(/identity/);
    expect(proposalFits({ tool: 'gh__x', decision: 'allow', identities: ['*'] }, { tool: 'gh__x', identity: 'token:alice', arguments: {} })).toMatch(/identity/);
    expect(proposalFits({ tool: 'gh__x', decision: 'allow', server: 'gh' }, { tool: 'gh__x', arguments: {} })).toMatch(/keys Tollgate does not propose \(server\)/);
    expect(proposalFits({ tool: 'gh__x', decision: 'allow', groups: ['admins'] }, { tool: 'gh__x', arguments: {} })).toMatch(/groups/);
  });
});

describe('addRule', () => {
  let dir: string;
  const env = { TOLLGATE_REQUIREMENTS: '' } as NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tg-amend-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('appends to rules keeping comments and layout, and the file loads as serve loads it', async () => {
    const before = '{\n  // our team policy\n  "approvals": { "mode": "human" },\n  "rules": [\n    { "tool": "fs__read_*", "decision": "allow" }, // reads are fine\n  ],\n}\n';
    await writeFile(join(dir, 'tollgate.json'), before);
    const r = await addRule({ configDir: dir, rule: { id: 'approved-gh-1', tool: 'gh__create_issue', decision: 'allow', match: ['gh__create_issue'] }, env });
    const text = await readFile(join(dir, 'tollgate.json'), 'utf8');
    expect(text).toContain('// our team policy');
    expect(text).toContain('// reads are fine');
    expect(r.before).toMatch(/^sha256:/);
    expect(r.after).not.toBe(r.before);
    const loaded = await loadEffectiveConfig({ configDir: dir, env });
    expect(loaded.config.rules.map((x) => x.id ?? x.tool)).toEqual(['fs__read_*', 'approved-gh-1']);
    expect(loaded.config.approvals.mode).toBe('human');
    expect((await readdir(dir)).sort()).toEqual(['tollgate.json']);
  });

  it('creates tollgate.json when the gateway ran on defaults, and adds "rules" when the file has none', async () => {
    const r = await addRule({ configDir: dir, rule: { id: 'a', tool: 'gh__x', decision: 'allow' }, env });
    expect(r.before).toBeUndefined();
    expect(JSON.parse(await readFile(join(dir, 'tollgate.json'), 'utf8'))).toEqual({ rules: [{ id: 'a', tool: 'gh__x', decision: 'allow' }] });
    await writeFile(join(dir, 'tollgate.json'), '{ "approvals": { "mode": "human" } }');
    await addRule({ configDir: dir, rule: { id: 'b', tool: 'gh__y', decision: 'allow' }, env });
    expect((await loadEffectiveConfig({ configDir: dir, env })).config.rules.map((x) => x.id)).toEqual(['b']);
  });

  it('refuses an edit that would not load, naming why, and leaves the file as it was', async () => {
    const before = '{ "rules": [] }';
    await writeFile(join(dir, 'tollgate.json'), before);
    await expect(addRule({ configDir: dir, rule: { id: 'bad', tool: 'gh__x', decision: 'allow', match: ['gh__other'] }, env })).rejects.toThrow(/would not load.*does not match the rule/);
    expect(await readFile(join(dir, 'tollgate.json'), 'utf8')).toBe(before);
    await writeFile(join(dir, 'tollgate.json'), '{ "rules": {} }');
    await expect(addRule({ configDir: dir, rule: { id: 'x', tool: 'gh__x', decision: 'allow' }, env })).rejects.toThrow(/"rules" is not a list/);
  });

  it('two concurrent edits both land (a lock serialises them)', async () => {
    await writeFile(join(dir, 'tollgate.json'), '{ "rules": [] }');
    await Promise.all([
      addRule({ configDir: dir, rule: { id: 'one', tool: 'gh__one', decision: 'allow' }, env }),
      addRule({ configDir: dir, rule: { id: 'two', tool: 'gh__two', decision: 'allow' }, env }),
    ]);
    const ids = (await loadEffectiveConfig({ configDir: dir, env })).config.rules.map((x) => x.id).sort();
    expect(ids).toEqual(['one', 'two']);
  });
});
