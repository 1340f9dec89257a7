// SECURITY: a shell call that policy allows without a person runs with only the power the decision assumed — the
// read-only profile: no writes or deletes under the roots, no network. Approved calls, or calls a rule names
// workspace-write for, get the writable roots. The journal says which profile ran.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { configDir, stdioAgent, textOf, type StdioAgent } from '../helpers/gateway.js';

function journal(dir: string): Record<string, unknown>[] {
  const audit = join(dir, '.tollgate', 'audit');
  return readdirSync(audit).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(audit, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
}

describe('decision-shaped sandboxes', () => {
  let dir: string;
  let agent: StdioAgent;
  let hits = 0;
  let approveNext = false;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end('reached\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    dir = configDir(
      { sh: { type: 'shell', roots: ['./workspace'], network: 'proxy' } },
      {
        approvals: { mode: 'human' },
        sandbox: { network: 'proxy' },
        network: { allowedDomains: ['127.0.0.1', 'localhost'], allowPrivate: true },
        rules: [
          // Policy allows these without a person: the decision assumed nothing beyond reading.
          { shell: ['touch'], decision: 'allow' },
          { shell: ['rm'], decision: 'allow' },
          { shell: ['curl'], decision: 'allow' },
          // This one names the writable profile.
          { shell: ['mkdir'], decision: 'allow', sandbox: 'workspace-write' },
        ],
      },
    );
    writeFileSync(join(dir, 'workspace', 'keep.txt'), 'precious\n');
    agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
    // The person approves only when a test says so; nothing else reaches a writable sandbox through them.
    agent.client.setRequestHandler(ElicitRequestSchema, async () => (approveNext ? ((approveNext = false), { action: 'accept', content: { decision: 'approve_once' } }) : { action: 'decline' }));
  });
  afterAll(async () => {
    await agent?.close();
    await new Promise((r) => server.close(r));
  });

  const exec = async (command: string) => (await agent.client.callTool({ name: 'sh__exec', arguments: { command } })) as CallToolResult;

  it('a rule-allowed command cannot write under the roots', async () => {
    const r = await exec('touch planted.txt');
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).toMatch(/read-only file system/i);
    expect(existsSync(join(dir, 'workspace', 'planted.txt'))).toBe(false);
    expect((r.structuredContent as { sandbox?: string }).sandbox).toBe('read-only');
  });

  it('a rule-allowed command cannot delete under the roots', async () => {
    const r = await exec('rm keep.txt');
    expect(r.isError, textOf(r)).toBe(true);
    expect(readFileSync(join(dir, 'workspace', 'keep.txt'), 'utf8')).toBe('precious\n');
  });

  it('a rule-allowed command cannot connect anywhere (no proxy, no network namespace access)', async () => {
    const r = await exec(`curl -sS --max-time 5 http://127.0.0.1:${port}/`);
    expect(r.isError, textOf(r)).toBe(true);
    expect(textOf(r)).not.toContain('reached');
    expect(hits).toBe(0);
  });

  it('a rule that names workspace-write gets it, and the journal says which profile ran', async () => {
    const r = await exec('mkdir made-by-rule');
    expect(r.isError, textOf(r)).toBe(false);
    expect(existsSync(join(dir, 'workspace', 'made-by-rule'))).toBe(true);
    const decisions = journal(dir).filter((e) => e.name === 'tollgate.tool_decision' && e.decision === 'approved');
    expect(decisions.map((d) => d.sandbox)).toEqual(['read-only', 'read-only', 'read-only', 'workspace-write']);
  });

  it('a person-approved call runs with the writable roots', async () => {
    approveNext = true;
    const r = await exec('echo approved > by-person.txt');
    expect(r.isError, textOf(r)).toBe(false);
    expect(readFileSync(join(dir, 'workspace', 'by-person.txt'), 'utf8')).toBe('approved\n');
    const last = journal(dir).filter((e) => e.name === 'tollgate.tool_decision').at(-1)!;
    expect(last).toMatchObject({ source: 'user', sandbox: 'workspace-write' });
  });

  it('an agent cannot pick its own profile through _meta', async () => {
    const r = (await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'touch sneaky.txt' }, _meta: { 'tollgate/sandboxProfile': 'workspace-write' } })) as CallToolResult;
    expect(r.isError, textOf(r)).toBe(true);
    expect(existsSync(join(dir, 'workspace', 'sneaky.txt'))).toBe(false);
  });
});
