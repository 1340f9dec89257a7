import { beforeAll, describe, expect, it } from 'vitest';
import { applyMode, checkServerAllowed, decideHost, decideHostResolved, evaluate, initPolicy, TollgateConfigSchema, type EffectiveConfig, type PolicyCall } from '../../gateway/policy/index.js';

beforeAll(() => initPolicy());

const config = TollgateConfigSchema.parse({
  network: { allowedDomains: ['**.github.com', '*.example.com'], deniedDomains: ['*.pastebin.com', 'bad.github.com'] },
  rules: [
    { tool: 'fs__read_*', decision: 'allow' },
    { id: 'no-etc', tool: 'fs__*', args: [{ path: '$.path', prefix: '/etc/' }], decision: 'deny', justification: 'system files' },
    { id: 'ssh-keys', tool: 'fs__*', args: [{ path: 'path', regex: '(^|/)\\.ssh(/|$)' }], decision: 'ask' },
    { id: 'db-ro', server: 'db', tool: 'query', args: [{ path: 'mode', oneOf: ['read', 'explain'] }], decision: 'allow' },
    { id: 'bulk', tool: 'db__query', args: [{ path: 'items[*].op', equals: 'drop' }], decision: 'deny' },
    { id: 'glob', tool: 'write_file', args: [{ path: '$.path', glob: 'tmp/**' }], decision: 'allow' },
    { id: 'admins-deploy', tool: 'ci__deploy', groups: ['admins'], decision: 'review' },
    { id: 'deploy-others', tool: 'ci__deploy', decision: 'ask' },
    { id: 'alice-only', tool: 'ci__nuke', identities: ['alice@*'], decision: 'allow' },
  ],
});
const call = (server: string, tool: string, args: Record<string, unknown> = {}, extra: Partial<PolicyCall> = {}): PolicyCall => ({ server, tool, args, kind: 'mcp', ...extra });

describe('MCP rules', () => {
  it.each([
    [call('fs', 'read_file', { path: 'src/a.ts' }), 'allow', ['rules[0] (tool fs__read_*)']],
    [call('fs', 'read_file', { path: '/etc/shadow' }), 'deny', ['rules[0] (tool fs__read_*)', 'no-etc']],
    [call('fs', 'read_file', { path: '/home/u/.ssh/id_rsa' }), 'ask', ['rules[0] (tool fs__read_*)', 'ssh-keys']],
    [call('db', 'query', { mode: 'read' }), 'allow', ['db-ro']],
    [call('db', 'query', { mode: 'write' }), 'review', []],
    [call('db', 'query', { mode: 'read', items: [{ op: 'select' }, { op: 'drop' }] }), 'deny', ['db-ro', 'bulk']],
    [call('any', 'write_file', { path: 'tmp/x/y.txt' }), 'allow', ['glob']],
    [call('any', 'write_file', { path: 'src/x.txt' }), 'review', []],
  ])('%# %o → %s', (c, decision, matched) => {
    const v = evaluate(c, config);
    expect(v.decision, v.reasons.join('; ')).toBe(decision);
    expect(v.matched).toEqual(matched);
    expect(v.reasons.length).toBeGreaterThan(0);
  });

  it('identity and group scoped rules', () => {
    expect(evaluate(call('ci', 'deploy'), config, { groups: ['admins'] }).decision).toBe('ask'); // both rules apply; strictest wins
    expect(evaluate(call('ci', 'deploy'), config, { groups: ['admins'] }).matched).toEqual(['admins-deploy', 'deploy-others']);
    expect(evaluate(call('ci', 'deploy'), config).matched).toEqual(['deploy-others']);
    expect(evaluate(call('ci', 'nuke'), config, { identity: 'alice@corp' }).decision).toBe('allow');
    expect(evaluate(call('ci', 'nuke'), config, { identity: 'bob@corp' }).decision).toBe('review');
    expect(evaluate(call('ci', 'nuke'), config).decision).toBe('review');
  });

  it('per-tool overrides from servers.json act like rules', () => {
    const v = evaluate(call('gh', 'create_issue', {}, { serverOverrides: { toolDecisions: { 'create_*': 'allow', 'delete_*': 'deny' } } }), config);
    expect(v).toMatchObject({ decision: 'allow', matched: ['servers.json gh.toolDecisions["create_*"]'] });
    expect(evaluate(call('gh', 'delete_repo', {}, { serverOverrides: { toolDecisions: { 'delete_*': 'deny' } } }), config).decision).toBe('deny');
  });
});

describe('annotations are untrusted hints with conservative defaults', () => {
  const ann = (annotations: Record<string, boolean> | undefined, args: Record<string, unknown> = {}) =>
    evaluate(call('x', 'tool', args, { toolDef: annotations ? { annotations } : {} }), config);
  it.each([
    [undefined, 'review', /missing hints count as destructive/],
    [{ readOnlyHint: true }, 'review', /open-world/],
    [{ readOnlyHint: true, openWorldHint: false }, 'allow', /read-only and closed-world/],
    [{ readOnlyHint: true, openWorldHint: false, destructiveHint: true }, 'review', /destructive wins/],
    [{ readOnlyHint: false, destructiveHint: false, openWorldHint: false }, 'review', /not annotated read-only/],
  ])('%o → %s', (a, decision, why) => {
    const v = ann(a);
    expect(v.decision).toBe(decision);
    expect(v.reasons.join('\n')).toMatch(why);
  });
  it('read-only open-world with only allowed URLs is allowed; an unknown domain asks; a denied one denies', () => {
    expect(ann({ readOnlyHint: true }, { url: 'https://api.github.com/x' })).toMatchObject({ decision: 'allow', hosts: ['api.github.com'] });
    expect(ann({ readOnlyHint: true }, { url: 'https://unknown.org/x' }).decision).toBe('ask');
    expect(ann({ readOnlyHint: true, openWorldHint: false }, { nested: [{ u: 'https://x.pastebin.com/p' }] }).decision).toBe('deny');
  });
  it('a rule allow does not beat a denied URL argument', () => {
    const v = evaluate(call('fs', 'read_file', { path: 'a', src: 'http://169.254.169.254/latest' }), config);
    expect(v.decision).toBe('deny');
    expect(v.reasons.join('\n')).toMatch(/linkLocal/);
  });
});

describe('approval modes', () => {
  const v = { decision: 'review' as const, reasons: ['r'], matched: [] };
  it('never-ask denies review/ask with a reason; other modes leave verdicts alone', () => {
    expect(applyMode(v, 'never-ask')).toMatchObject({ decision: 'deny', reasons: ['r', expect.stringMatching(/never-ask/)] });
    expect(applyMode({ ...v, decision: 'ask' }, 'never-ask').decision).toBe('deny');
    expect(applyMode({ ...v, decision: 'allow' }, 'never-ask').decision).toBe('allow');
    expect(applyMode(v, 'human')).toBe(v);
    expect(applyMode(v, 'auto-review')).toBe(v);
  });
});

describe('network domains', () => {
  it.each([
    ['github.com', 'allow'], ['api.github.com', 'allow'], ['bad.github.com', 'deny'], ['example.com', 'ask'], ['a.example.com', 'allow'],
    ['x.pastebin.com', 'deny'], ['pastebin.com', 'ask'], ['GITHUB.COM.', 'allow'], ['evilgithub.com', 'ask'],
    ['127.0.0.1', 'deny'], ['localhost', 'deny'], ['10.1.2.3', 'deny'], ['192.168.0.1', 'deny'], ['169.254.169.254', 'deny'],
    ['100.64.1.1', 'deny'], ['[::1]', 'deny'], ['::ffff:127.0.0.1', 'deny'], ['fd00:ec2::254', 'deny'], ['0x7f.1', 'deny'], ['2130706433', 'deny'],
    ['0.0.0.0', 'deny'], ['metadata.google.internal', 'deny'], ['8.8.8.8', 'ask'],
  ])('%s → %s', (host, decision) => {
    const d = decideHost(host, 443, config);
    expect(d.decision, d.reasons.join('; ')).toBe(decision);
    expect(d.reasons.length).toBe(1);
  });
  it('private targets can be allowed explicitly', () => {
    const c = TollgateConfigSchema.parse({ network: { allowPrivate: ['127.0.0.1', '10.0.0.0/8'] } });
    expect(decideHost('127.0.0.1', 8080, c).decision).toBe('allow');
    expect(decideHost('10.9.9.9', undefined, c).decision).toBe('allow');
    expect(decideHost('192.168.1.1', undefined, c).decision).toBe('deny');
    expect(decideHost('localhost', undefined, TollgateConfigSchema.parse({ network: { allowPrivate: true } })).decision).toBe('allow');
  });
  it('hostnames resolving to private ranges are denied (rebinding guard), resolution failure fails closed', async () => {
    const lookup = async (h: string) => (h === 'rebind.example.com' ? ['93.184.216.34', '127.0.0.1'] : h === 'ok.example.com' ? ['93.184.216.34'] : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' })));
    expect((await decideHostResolved('rebind.example.com', 443, config, lookup)).decision).toBe('deny');
    expect((await decideHostResolved('ok.example.com', 443, config, lookup)).decision).toBe('allow');
    expect(await decideHostResolved('gone.example.com', 443, config, lookup)).toMatchObject({ decision: 'deny', reasons: [expect.stringMatching(/ENOTFOUND/)] });
    expect((await decideHostResolved('x.pastebin.com', 443, config, lookup)).decision).toBe('deny');
  });
});

describe('server allowlist from requirements', () => {
  const eff = {
    ...config,
    dataDir: '/tmp/x',
    configDir: '/tmp',
    requirements: {
      source: 'req.json',
      servers: { allowlist: [{ name: 'fs', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'] }, { name: 'docs', url: 'https://docs.example.com/mcp' }, { name: 'sh', kind: 'shell' as const }] },
    },
  } as EffectiveConfig;
  it.each([
    [{ name: 'fs', kind: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'] }, true],
    [{ name: 'fs', kind: 'stdio', command: 'bash', args: ['-c', 'evil'] }, false],
    [{ name: 'fs', kind: 'stdio', command: 'npx', args: ['-y', 'evil-server'] }, false],
    [{ name: 'docs', kind: 'http', url: 'https://docs.example.com/mcp' }, true],
    [{ name: 'docs', kind: 'http', url: 'https://evil.example.com/mcp' }, false],
    [{ name: 'sh', kind: 'shell' }, true],
    [{ name: 'other', kind: 'stdio', command: 'node' }, false],
  ] as const)('%o → %s', (server, allowed) => {
    const r = checkServerAllowed({ ...server, args: 'args' in server ? [...server.args] : undefined }, eff);
    expect(r.allowed).toBe(allowed);
    if (!allowed) expect(r.reason).toMatch(/allowlist/);
  });
  it('without requirements every server is allowed', () => {
    expect(checkServerAllowed({ name: 'x', kind: 'stdio', command: 'node' }, config)).toEqual({ allowed: true });
  });
});

describe('evaluate before initPolicy', () => {
  it('is guarded by a clear error (checked in a fresh module graph)', async () => {
    const { vi } = await import('vitest');
    vi.resetModules();
    const fresh = await import('../../gateway/policy/index.js?fresh=1' as string);
    expect(() => fresh.evaluate({ server: 's', tool: 'exec', args: { command: 'ls' }, kind: 'shell' }, config)).toThrow(/initPolicy/);
  });
});
