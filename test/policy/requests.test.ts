// Resources, prompts and completions are decided by rules like tools (pure evaluateRequest).
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateRequest, initPolicy, TollgateConfigSchema, verifyRuleExamples, type PolicyRequest } from '../../gateway/policy/index.js';

beforeAll(() => initPolicy());

const res = (server: string, uri: string, extra: Partial<PolicyRequest> = {}): PolicyRequest => ({ method: 'resources/read', target: { kind: 'resource', server, uri }, ...extra });
const prm = (server: string, prompt: string, extra: Partial<PolicyRequest> = {}): PolicyRequest => ({ method: 'prompts/get', target: { kind: 'prompt', server, prompt, namespaced: `${server}__${prompt}` }, ...extra });
const cfg = (rules: unknown[]) => TollgateConfigSchema.parse({ rules });

describe('resource rules: "<server glob>:<uri glob>" on the canonical URI', () => {
  const c = cfg([{ id: 'etc', resource: 'fs:file:///etc/**', decision: 'deny' }, { id: 'docs', resource: '*:docs://public/*', decision: 'allow' }]);
  it.each(['file:///etc/passwd', 'file:///etc/ssl/private/key.pem', 'file:////etc/passwd', 'file:///tmp/../etc/passwd', 'file:///%65tc/passwd', 'file://localhost/etc/passwd'])('%s denied', (uri) => {
    expect(evaluateRequest(res('fs', uri), c)).toMatchObject({ decision: 'deny', matched: ['etc'] });
  });
  it('near misses are not', () => {
    expect(evaluateRequest(res('fs', 'file:///etcx/passwd'), c).decision).toBe('allow');
    expect(evaluateRequest(res('other', 'file:///etc/passwd'), c).decision).toBe('allow');
    expect(evaluateRequest(res('fs', 'file:///home/u/etc/passwd'), c).decision).toBe('allow');
  });
  it('the rule applies to subscribe and completion too', () => {
    expect(evaluateRequest(res('fs', 'file:///etc/x', { method: 'resources/subscribe' }), c).decision).toBe('deny');
    expect(evaluateRequest(res('fs', 'file:///etc/x', { method: 'completion/complete' }), c).decision).toBe('deny');
  });
});

describe('prompt rules', () => {
  const c = cfg([{ id: 'gh', prompt: 'gh__*', decision: 'ask' }, { id: 'bare', prompt: 'deploy', decision: 'deny' }]);
  it('namespaced and bare globs', () => {
    expect(evaluateRequest(prm('gh', 'triage'), c)).toMatchObject({ decision: 'ask', matched: ['gh'] });
    expect(evaluateRequest(prm('ci', 'deploy'), c)).toMatchObject({ decision: 'deny', matched: ['bare'] });
    expect(evaluateRequest(prm('ci', 'triage'), c).decision).toBe('allow');
  });
});

describe('rules covering a whole server cover its resources and prompts', () => {
  it('a server rule, any decision', () => {
    const c = cfg([{ id: 's', server: 'fs', decision: 'deny' }]);
    expect(evaluateRequest(res('fs', 'file:///x'), c).decision).toBe('deny');
    expect(evaluateRequest(prm('fs', 'p'), c).decision).toBe('deny');
    expect(evaluateRequest(res('gh', 'file:///x'), c).decision).toBe('allow');
    expect(evaluateRequest(res('fs', 'file:///x'), cfg([{ server: 'fs', decision: 'review' }])).decision).toBe('review');
  });
  it('a tool glob fs__* that tightens; one that allows does not open resources', () => {
    expect(evaluateRequest(res('fs', 'file:///x'), cfg([{ id: 't', tool: 'fs__*', decision: 'deny' }]))).toMatchObject({ decision: 'deny', matched: ['t'] });
    expect(evaluateRequest(prm('fs', 'p'), cfg([{ tool: 'fs__*', decision: 'ask' }])).decision).toBe('ask');
    expect(evaluateRequest(res('fs', 'file:///x'), cfg([{ tool: 'fs__*', decision: 'allow' }])).matched).toEqual([]);
    expect(evaluateRequest(res('gh', 'file:///x'), cfg([{ tool: 'fs__*', decision: 'deny' }])).decision).toBe('allow');
  });
  it('a tool rule for one tool, or with argument conditions, does not', () => {
    expect(evaluateRequest(res('fs', 'file:///x'), cfg([{ tool: 'fs__write', decision: 'deny' }])).decision).toBe('allow');
    expect(evaluateRequest(res('fs', 'file:///x'), cfg([{ tool: 'fs__*', args: [{ path: 'p', exists: true }], decision: 'deny' }])).decision).toBe('allow');
  });
  it('a rule pinned by requirements is labelled so', () => {
    const c = { ...cfg([{ server: 'fs', decision: 'deny' }]), requirements: { source: 'r.json', rules: [{ server: 'fs', decision: 'deny' as const }] } };
    expect(evaluateRequest(res('fs', 'file:///x'), c as never).matched[0]).toMatch(/^requirements/);
  });
});

describe('a server whose tools are all denied keeps its resources and prompts shut', () => {
  const tools = [{ name: 'read', exposed: true }, { name: 'write', exposed: true }, { name: 'hidden', exposed: false }];
  it('every tool denied (rules or servers.json), no resource rule → deny', () => {
    const c = cfg([{ id: 'r', tool: 'fs__read', decision: 'deny' }, { id: 'w', tool: 'write', server: 'fs', decision: 'deny' }]);
    const v = evaluateRequest(res('fs', 'file:///x', { serverTools: tools }), c);
    expect(v.decision).toBe('deny');
    expect(v.reasons[0]).toMatch(/every tool of server "fs" is denied/);
    expect(evaluateRequest(prm('fs', 'p', { serverTools: tools, serverOverrides: { toolDecisions: { read: 'deny' } } }), cfg([{ tool: 'fs__write', decision: 'deny' }])).decision).toBe('deny');
  });
  it('one tool not denied → allowed', () => {
    const c = cfg([{ tool: 'fs__read', decision: 'deny' }, { tool: 'fs__write', decision: 'ask' }]);
    expect(evaluateRequest(res('fs', 'file:///x', { serverTools: tools }), c).decision).toBe('allow');
  });
  it('a resource rule that allows wins over the implicit deny', () => {
    const c = cfg([{ tool: 'fs__read', decision: 'deny' }, { tool: 'fs__write', decision: 'deny' }, { id: 'ok', resource: 'fs:file:///x', decision: 'allow' }]);
    expect(evaluateRequest(res('fs', 'file:///x', { serverTools: tools }), c)).toMatchObject({ decision: 'allow', matched: ['ok'] });
  });
});

describe('rules load: kinds, examples', () => {
  it('refuses unknown request kinds and mixed kinds, naming the rule', () => {
    const bad = TollgateConfigSchema.safeParse({ rules: [{ tool: 'a', decision: 'allow' }, { resources: 'fs:x', decision: 'deny' }] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ['rules', 1], message: expect.stringContaining('unknown key "resources"') });
    expect(TollgateConfigSchema.safeParse({ rules: [{ tool: 'a', prompt: 'b', decision: 'deny' }] }).error!.issues[0]!.message).toMatch(/one request kind/);
    expect(TollgateConfigSchema.safeParse({ rules: [{ resource: 'no-colon', decision: 'deny' }] }).success).toBe(false);
    expect(TollgateConfigSchema.safeParse({ rules: [{ resource: 'fs:x', server: 'fs', decision: 'deny' }] }).success).toBe(false);
  });
  it('resource and prompt rules check their examples', () => {
    expect(verifyRuleExamples(cfg([{ resource: 'fs:file:///etc/**', decision: 'deny', match: ['fs:file:///etc/passwd', 'fs:file:///tmp/../etc/x'], notMatch: ['fs:file:///tmp/x'] }]))).toEqual([]);
    const errs = verifyRuleExamples(cfg([{ prompt: 'gh__*', decision: 'deny', match: ['gl__x'] }]));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/match\[0\] "gl__x" does not match/);
  });
});
