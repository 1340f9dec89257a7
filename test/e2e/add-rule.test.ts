// "Approve and add a rule" through the real gateway (issue 16 item 8): the elicitation form offers the rule and
// writes it; `tollgate approvals approve ID --add-rule` from another process does the same; the gateway reloads
// tollgate.json and the next such call runs without a person; every step is journaled.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, type ElicitRequest } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, configDir, gatewayArgs, runCli, textOf, until, upstreams } from '../helpers/gateway.js';
import { formAgent, journal, type FormAgent, type JournalRecord } from './review-kit/kit.js';

const DELETE = 'fixture__delete_file';
const ECHO = 'fixture__echo';
const rulesOf = (dir: string) => (JSON.parse(readFileSync(join(dir, 'tollgate.json'), 'utf8')) as { rules?: Array<Record<string, unknown>> }).rules ?? [];
const reloaded = async (dir: string, after: number) => (await journal(dir, '--event', 'admin_action')).filter((r) => r.action === 'config.reloaded').length > after;
const choices = (p: ElicitRequest['params']) =>
  ((p as { requestedSchema?: { properties?: { decision?: { oneOf?: Array<{ const: string; title: string }> } } } }).requestedSchema?.properties?.decision?.oneOf ?? []);

describe('approve and add a rule: elicitation form', () => {
  let dir: string;
  let agent: FormAgent;
  const offered: Array<{ const: string; title: string }[]> = [];
  beforeAll(async () => {
    // no rule names delete_file: the default (not annotated read-only) sends it to a person
    dir = configDir({ fixture: upstreams.fixture() }, { approvals: { mode: 'human', channels: ['elicitation'] }, audit: { otlp: { enabled: false } } });
    agent = await formAgent(dir);
    agent.answer = (p) => {
      offered.push(choices(p));
      return { action: 'accept', content: { decision: 'approve_add_rule' } };
    };
  });
  afterAll(() => agent?.close());

  it('offers the rule in the form, writes it to tollgate.json, journals it, and the next call needs nobody', async () => {
    const r = await agent.client.callTool({ name: DELETE, arguments: { path: 'a.txt' } });
    expect(textOf(r)).toBe('deleted a.txt');
    expect(agent.asked).toHaveLength(1);
    expect(agent.asked[0]).toMatch(/Offered rule .*: always allow fixture__delete_file with any arguments for local:/);
    const add = offered[0]!.find((c) => c.const === 'approve_add_rule');
    expect(add?.title).toMatch(/^Approve and add a rule: always allow fixture__delete_file/);
    expect(offered[0]!.map((c) => c.const)).toEqual(['approve_once', 'approve_add_rule', 'approve_session', 'approve_tool_session', 'deny']);

    const rules = rulesOf(dir);
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ tool: DELETE, decision: 'allow', identities: [`local:${userInfo().username}`] });

    await until(() => reloaded(dir, 0), 'the gateway reloading tollgate.json');
    const second = await agent.client.callTool({ name: DELETE, arguments: { path: 'b.txt' } });
    expect(textOf(second)).toBe('deleted b.txt');
    expect(agent.asked).toHaveLength(1); // nobody was asked the second time

    const all = await journal(dir);
    const firstCall = all.find((x) => x.name === 'tollgate.tool_call' && (x.arguments as { path?: string }).path === 'a.txt')!;
    const added = all.find((x) => x.name === 'tollgate.admin_action' && x.action === 'policy.rule_added') as JournalRecord;
    expect(added).toMatchObject({ channel: 'gateway', callId: firstCall.callId, actor: `local:${userInfo().username}` });
    expect(String(added.target)).toContain(`rule ${String(rules[0]!.id)}`);
    expect(added.after).toMatch(/^sha256:/);
    const secondCall = all.find((x) => x.name === 'tollgate.tool_call' && (x.arguments as { path?: string }).path === 'b.txt')!;
    expect(all.find((x) => x.name === 'tollgate.tool_decision' && x.callId === secondCall.callId)).toMatchObject({ decision: 'approved', source: 'rule' });
    expect(all.some((x) => x.name === 'tollgate.human_decision' && x.callId === secondCall.callId)).toBe(false);
  }, 60_000);
});

/** A headless-like agent: declares form elicitation and declines every form at once (so calls are deferred). */
async function headless(dir: string) {
  const client = new Client({ name: 'headless-agent', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
  await client.connect(new StdioClientTransport({ command: process.execPath, args: gatewayArgs('serve', '--stdio', '--config', dir), cwd: ROOT, stderr: 'pipe' }));
  return client;
}
const idIn = (text: string) => /waiting as approval ([a-z0-9]{10})/.exec(text)?.[1];

describe('approve and add a rule: tollgate approvals approve --add-rule', () => {
  let dir: string;
  let agent: Client;
  beforeAll(async () => {
    dir = configDir(
      { fixture: upstreams.fixture() },
      {
        approvals: { mode: 'human', minHumanResponseMs: 800 },
        rules: [{ id: 'echo-asks', tool: ECHO, decision: 'ask', justification: 'echo needs a person here' }],
        audit: { otlp: { enabled: false } },
      },
    );
    agent = await headless(dir);
  });
  afterAll(() => agent?.close());

  it('list shows the offered rule; --add-rule approves once and writes it; the next call runs by the rule', async () => {
    const first = await agent.callTool({ name: DELETE, arguments: { path: 'c.txt' } });
    const id = idIn(textOf(first));
    expect(id, textOf(first)).toBeDefined();
    const list = await runCli(['approvals', 'list', '--config', dir]);
    expect(list.stdout).toMatch(new RegExp(`${id}[\\s\\S]*offered rule \\(approve with --add-rule\\): always allow ${DELETE} with any arguments`));

    const approved = await runCli(['approvals', 'approve', id!, '--add-rule', '--config', dir]);
    expect(approved, approved.stderr).toMatchObject({ code: 0 });
    expect(approved.stdout).toMatch(/Added rule approved-fixture--delete-file-[0-9a-f]{6} to .*tollgate\.json/);
    const rules = rulesOf(dir);
    expect(rules.map((r) => r.id)).toEqual(['echo-asks', expect.stringMatching(/^approved-/)]);
    // the comment-free file the test wrote keeps its other settings
    expect(JSON.parse(readFileSync(join(dir, 'tollgate.json'), 'utf8')).approvals.minHumanResponseMs).toBe(800);

    await until(() => reloaded(dir, 0), 'the gateway reloading tollgate.json');
    const other = await agent.callTool({ name: DELETE, arguments: { path: 'd.txt' } });
    expect(textOf(other)).toBe('deleted d.txt');

    const all = await journal(dir, '--event', 'admin_action');
    expect(all.find((x) => x.action === 'approvals.approve' && x.target === id)).toMatchObject({ channel: 'cli', actor: `local:${userInfo().username}` });
    expect(all.find((x) => x.action === 'policy.rule_added')).toMatchObject({ channel: 'cli', tool: DELETE, detail: expect.stringContaining(`approval ${id}`) });
  }, 60_000);

  it('--add-rule where no rule is offered (an admin rule asks) decides nothing and says why', async () => {
    const r = await agent.callTool({ name: ECHO, arguments: { text: 'hi' } });
    const id = idIn(textOf(r));
    expect(id, textOf(r)).toBeDefined();
    expect((await runCli(['approvals', 'list', '--config', dir])).stdout).not.toMatch(new RegExp(`${id}[^\\n]*\\n(  [^\\n]*\\n)*  offered rule`));
    const tried = await runCli(['approvals', 'approve', id!, '--add-rule', '--config', dir]);
    expect(tried.code).toBe(1);
    expect(tried.stderr).toMatch(/nothing was decided: no rule is offered for this call/);
    expect((await runCli(['approvals', 'list', '--config', dir])).stdout).toContain(id);
    expect(await runCli(['approvals', 'approve', id!, '--add-rule', '--session', '--config', dir])).toMatchObject({ code: 2 });
  }, 60_000);
});
