// Issue 6 end to end: real agents drive the real gateway; the journal on disk, the CLI and a real OTLP receiver tell the story.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { configDir, httpAgent, httpGateway, runCli, stdioAgent, textOf, upstreams, type HttpGateway, type StdioAgent } from '../helpers/gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from '../fixtures/otlp-receiver.js';
import { auditDirText, journalFiles, readJournal, storyOf, type JournalLine } from './audit-support/journal.js';

// An OpenAI project key shape, unique per run so nothing else can contain it by accident.
const PLANTED_KEY = `sk-proj-${randomBytes(24).toString('hex')}`;
// A password passed on a command line the way agents do it (curl basic auth): no vendor prefix to recognise.
const PLANTED_PASSWORD = `Pw${randomBytes(12).toString('hex')}`;
const RULES = [
  { tool: 'fixture__echo', decision: 'allow', justification: 'read-only echo' },
  { tool: 'fixture__fail', decision: 'allow' },
  { tool: 'fixture__delete_file', decision: 'ask', justification: 'destructive: a person decides' },
  { tool: 'fixture__crash', decision: 'deny', justification: 'never crash the upstream' },
];

describe('a full scripted session through the gateway, exported over OTLP', () => {
  let rx: OtlpReceiver;
  let dir: string;
  let dataDir: string;
  let agent: StdioAgent;
  let journal: JournalLine[];
  let sessionId: string;
  const received: string[] = [];

  beforeAll(async () => {
    rx = await startOtlpReceiver();
    dir = configDir({ fixture: upstreams.fixture() }, { rules: RULES, audit: { otlp: { endpoint: rx.url, headers: { 'x-tenant': 'e2e' } } } });
    dataDir = join(dir, '.tollgate');
    agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
    agent.client.setRequestHandler(ElicitRequestSchema, async (req) =>
      req.params.message.includes('keep-me.txt')
        ? { action: 'accept', content: { decision: 'deny', reason: 'that file stays' } }
        : { action: 'accept', content: { decision: 'approve_once' } },
    );
    const c = agent.client;
    const echoed = await c.callTool({ name: 'fixture__echo', arguments: { text: `deploy with ${PLANTED_KEY} now` }, _meta: { 'tollgate/userPrompt': `please deploy, the key is ${PLANTED_KEY}` } });
    received.push(textOf(echoed));
    received.push(textOf(await c.callTool({ name: 'fixture__delete_file', arguments: { path: 'scratch/old.log' } })));
    received.push(textOf(await c.callTool({ name: 'fixture__delete_file', arguments: { path: 'keep-me.txt' } })));
    received.push(textOf(await c.callTool({ name: 'fixture__crash', arguments: {} })));
    received.push(textOf(await c.callTool({ name: 'fixture__fail', arguments: {} })));
    received.push(textOf(await c.callTool({ name: 'fixture__echo', arguments: { text: `curl -fsS -u deploy:${PLANTED_PASSWORD} https://artifacts.example.com/upload` } })));
    await agent.close(); // stdin closes → session_end, OTLP flushed on the way out
    journal = readJournal(dataDir);
    sessionId = journal.find((r) => r.name === 'tollgate.session_start')!.sessionId as string;
    await rx.waitForLogs(journal.length);
  });

  afterAll(async () => {
    await rx?.close();
  });

  it('the agent saw what the policy decided', () => {
    expect(received[0]).toBe(`deploy with ${PLANTED_KEY} now`); // positive control: the key really went through
    expect(received[1]).toBe('deleted scratch/old.log');
    expect(received[2]).toMatch(/denied.*that file stays/s);
    expect(received[3]).toMatch(/never crash the upstream|denied/i);
    expect(received[4]).toBe('it failed on purpose');
  });

  it('the journal holds every step of every call, in order', () => {
    const names = (pick: (a: Record<string, unknown>) => boolean) => storyOf(journal, pick).steps.map((s) => s.name.replace('tollgate.', ''));
    expect(journal[0]!.name).toBe('tollgate.config_loaded');
    expect(journal.at(-1)).toMatchObject({ name: 'tollgate.session_end', sessionId, calls: 6 });
    expect(names((a) => String(a.text).startsWith('deploy'))).toEqual(['user_prompt', 'tool_call', 'policy_decision', 'tool_decision', 'tool_result']);
    expect(names((a) => a.path === 'scratch/old.log')).toEqual(['tool_call', 'policy_decision', 'human_decision', 'tool_decision', 'tool_result']);
    expect(names((a) => a.path === 'keep-me.txt')).toEqual(['tool_call', 'policy_decision', 'human_decision', 'tool_decision']);
    const byTool = (tool: string) => journal.filter((r) => r.tool === tool && r.name === 'tollgate.tool_decision');
    expect(byTool('fixture__crash')).toEqual([expect.objectContaining({ decision: 'denied', source: 'rule' })]);
    expect(byTool('fixture__fail')).toEqual([expect.objectContaining({ decision: 'approved', source: 'rule' })]);
    expect(journal.filter((r) => r.name === 'tollgate.tool_result' && r.tool === 'fixture__fail')).toEqual([expect.objectContaining({ isError: true, success: false })]);
    const prompt = journal.find((r) => r.name === 'tollgate.user_prompt')!;
    expect(prompt.text).toBeUndefined(); // prompt text only when audit.includeUserPrompt is set
  });

  it('the OTLP receiver got the same events with the right eventName, attributes and resource', () => {
    const logs = rx.logs;
    expect(logs).toHaveLength(journal.length);
    expect(logs.map((l) => l.eventName).sort()).toEqual(journal.map((r) => r.name).sort());
    for (const name of ['session_start', 'user_prompt', 'tool_call', 'policy_decision', 'human_decision', 'tool_decision', 'tool_result', 'session_end', 'config_loaded']) {
      expect(logs.map((l) => l.eventName), name).toContain(`tollgate.${name}`);
    }
    for (const l of logs) expect(l.resource).toMatchObject({ 'service.name': 'tollgate', 'service.version': expect.any(String) });
    expect(rx.requests[0]!.headers['x-tenant']).toBe('e2e');
    expect(rx.requests[0]!.headers['content-encoding']).toBe('gzip');
    const { callId } = storyOf(journal, (a) => a.path === 'scratch/old.log');
    const steps = logs.filter((l) => l.attributes['gen_ai.tool.call.id'] === callId);
    expect(steps.map((l) => l.eventName)).toEqual(['tollgate.tool_call', 'tollgate.policy_decision', 'tollgate.human_decision', 'tollgate.tool_decision', 'tollgate.tool_result']);
    for (const s of steps) {
      expect(s.attributes).toMatchObject({ 'mcp.session.id': sessionId, 'gen_ai.tool.name': 'fixture__delete_file', 'gen_ai.tool.call.id': callId, 'tollgate.server': 'fixture' });
    }
    expect(steps.find((s) => s.eventName === 'tollgate.tool_decision')!.attributes).toMatchObject({ 'tollgate.decision': 'approved', 'tollgate.source': 'user' });
    expect(steps.find((s) => s.eventName === 'tollgate.human_decision')!.attributes).toMatchObject({ 'tollgate.channel': 'form', 'tollgate.decision': 'approve_once' });
    const start = logs.find((l) => l.eventName === 'tollgate.session_start')!;
    expect(start.attributes).toMatchObject({ 'mcp.session.id': sessionId, 'tollgate.transport': 'stdio', 'tollgate.capabilities.elicitation_form': true });
    expect(logs.find((l) => l.eventName === 'tollgate.session_end')!.attributes).toMatchObject({ 'mcp.session.id': sessionId });
  });

  it('a planted API key in the arguments, the output and the prompt appears nowhere in the journal or the OTLP payload', () => {
    const secretPart = PLANTED_KEY.slice(12, 40);
    const onDisk = auditDirText(dataDir);
    const wire = Buffer.concat(rx.requests.map((r) => r.decoded)).toString('latin1');
    const decoded = JSON.stringify(rx.logs);
    for (const hay of [onDisk, wire, decoded]) {
      expect(hay).not.toContain(PLANTED_KEY);
      expect(hay).not.toContain(secretPart);
    }
    // …and the rest of the record survived: redaction is targeted, not a blanket wipe
    const call = storyOf(journal, (a) => String(a.text).startsWith('deploy')).steps.find((r) => r.name === 'tollgate.tool_call')!;
    expect(JSON.stringify(call.arguments)).toMatch(/^\{"text":"deploy with .*REDACTED.* now"\}$/);
  });

  it('a password in a `curl -u user:password` argument and output appears nowhere in the journal or the OTLP payload', () => {
    expect(received[5]).toContain(PLANTED_PASSWORD); // positive control
    const wire = Buffer.concat(rx.requests.map((r) => r.decoded)).toString('latin1');
    expect(auditDirText(dataDir)).not.toContain(PLANTED_PASSWORD);
    expect(wire).not.toContain(PLANTED_PASSWORD);
  });

  it('`tollgate audit explain CALL_ID` tells the whole story of one call', async () => {
    const { callId } = storyOf(journal, (a) => a.path === 'keep-me.txt');
    const e = await runCli(['audit', 'explain', callId, '--config', dir]);
    expect(e.code).toBe(0);
    const lines = e.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Call ${callId} — fixture__delete_file on server fixture, session ${sessionId}, identity ${journal.find((r) => r.name === 'tollgate.session_start')!.identity}`);
    expect(e.stdout).toContain('keep-me.txt');
    expect(e.stdout).toMatch(/policy.*ask/);
    expect(e.stdout).toMatch(/form: deny by .* — that file stays/);
    expect(lines.slice(1, -1).map((l) => l.trim().split(/\s+/)[2])).toEqual(['request', 'policy', 'human', 'decision']);
    expect(lines.at(-1)).toBe('Outcome: denied by user');

    const approved = storyOf(journal, (a) => a.path === 'scratch/old.log').callId;
    const e2 = await runCli(['audit', 'explain', approved, '--config', dir]);
    const lines2 = e2.stdout.trim().split('\n');
    expect(lines2.slice(1, -1).map((l) => l.trim().split(/\s+/)[2])).toEqual(['request', 'policy', 'human', 'decision', 'result']);
    expect(lines2.at(-1)).toBe('Outcome: approved by user; ran successfully');
  });

  it('`tollgate audit stats` counts the session', async () => {
    const s = await runCli(['audit', 'stats', '--json', '--config', dir]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ sessions: 1, calls: 6, callsByServer: { fixture: 6 }, ruleAllowed: 3, humansAsked: 2, denied: 2 });
  });

  it('`tollgate audit verify` passes; editing one line makes it fail naming that line', async () => {
    const ok = await runCli(['audit', 'verify', '--config', dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`OK: ${journal.length} records in 1 file(s)`);
    const f = journalFiles(dataDir)[0]!;
    const lines = readFileSync(f, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"tollgate.tool_decision"') && l.includes('"denied"'));
    lines[i] = lines[i]!.replace('"denied"', '"approved"');
    writeFileSync(f, lines.join('\n'));
    const bad = await runCli(['audit', 'verify', '--config', dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`BROKEN at journal-000001.jsonl:${i + 1} (seq ${i + 1}): hash does not match the record content`);
  });
});

describe('OTLP receiver down', () => {
  it('calls still proceed, the journal has everything, and the gateway reports the failed exports', async () => {
    const rx = await startOtlpReceiver();
    const deadUrl = rx.url;
    await rx.close(); // nothing listens there now
    const dir = configDir({ fixture: upstreams.fixture() }, { rules: RULES, audit: { otlp: { endpoint: deadUrl } } });
    const gw = await httpGateway(dir);
    const agent = await httpAgent(gw.url, {}, gw.auth);
    for (let i = 0; i < 3; i++) {
      const r = await agent.callTool({ name: 'fixture__echo', arguments: { text: `still works ${i}` } });
      expect(textOf(r)).toBe(`still works ${i}`);
    }
    await agent.close();
    await gw.stop(); // SIGTERM: the gateway flushes (bounded wait) and exits
    const journal = readJournal(join(dir, '.tollgate'));
    expect(journal.filter((r) => r.name === 'tollgate.tool_decision')).toHaveLength(3);
    expect(journal.filter((r) => r.name === 'tollgate.tool_result' && r.success === true)).toHaveLength(3);
    // "Export failures are counted and reported": an operator must be able to see them without a debugger.
    const said = gw.stderr().split('\n').filter((l) => /OTLP/i.test(l) && /fail|could not/i.test(l));
    expect(said.length).toBeGreaterThan(0);
  });
});

describe('SIGKILL of the gateway in the middle of a burst of HTTP calls', () => {
  let gw: HttpGateway;
  let agent: Client;
  let dir: string;

  beforeAll(async () => {
    dir = configDir({ fixture: upstreams.fixture() }, { rules: RULES });
    gw = await httpGateway(dir);
    agent = await httpAgent(gw.url, {}, gw.auth);
  });
  afterAll(async () => {
    await agent?.close().catch(() => undefined);
    // killed by a signal: exitCode stays null, so the helper's stop() would wait for an exit that already happened
    if (gw && gw.proc.signalCode === null) await gw.stop();
  });

  it('loses no decision that was acted on: every result the agent received has its tool_decision journaled', async () => {
    const acted: string[] = [];
    const exited = new Promise<void>((r) => gw.proc.once('exit', () => r()));
    let next = 0;
    let killed = false;
    // 32 calls in flight at all times until the kill
    const worker = async () => {
      while (!killed) {
        const text = `burst-${next++}`;
        try {
          const r = await agent.callTool({ name: 'fixture__echo', arguments: { text } });
          if (textOf(r) === text) acted.push(text);
          if (acted.length >= 300 && !killed) {
            killed = true;
            gw.proc.kill('SIGKILL');
          }
        } catch {
          return; // the gateway is gone
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 32 }, worker));
    await exited;
    await agent.close(); // rejects the calls that were in flight when the gateway died
    await workers;
    expect(acted.length).toBeGreaterThanOrEqual(300);
    expect(next).toBeGreaterThan(acted.length); // calls were still in flight when it died

    const journal = readJournal(join(dir, '.tollgate'));
    const callIdOf = new Map(journal.filter((r) => r.name === 'tollgate.tool_call').map((r) => [(r.arguments as { text: string }).text, r.callId!]));
    const decided = new Set(journal.filter((r) => r.name === 'tollgate.tool_decision' && r.decision === 'approved').map((r) => r.callId));
    const lost = acted.filter((t) => !callIdOf.has(t) || !decided.has(callIdOf.get(t)));
    expect(lost).toEqual([]);

    // the journal is intact up to the crash (a torn last line, if any, is reported, never accepted)
    const v = await runCli(['audit', 'verify', '--json', '--config', dir]);
    const report = JSON.parse(v.stdout) as { ok: boolean; records: number; tornTails: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.records).toBe(journal.length);
  });
});
