// SECURITY (expected to FAIL until fixed): secret redaction lets the agent hide the code it runs from the person
// who approves it, from the auto-reviewer, and from the audit journal (`TOKEN=$(…)` looks like a secret assignment).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { configDir, stdioAgent, textOf, type StdioAgent } from '../helpers/gateway.js';

let agent: StdioAgent | undefined;
afterAll(async () => agent?.close());

it('the approver and the journal see the command that actually runs', async () => {
  const dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] } }, {});
  writeFileSync(join(dir, 'workspace', 'payload.sh'), 'echo ran > pwned.txt\n');
  agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
  const asked: string[] = [];
  agent.client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return { action: 'accept', content: { decision: 'approve_once' } };
  });
  const command = 'ls && TOKEN=$(bash<payload.sh)';
  const r = await agent.client.callTool({ name: 'sh__exec', arguments: { command } });
  console.log('RESULT:', textOf(r));
  console.log('WHAT THE PERSON WAS ASKED:\n' + asked.join('\n---\n'));
  const auditDir = join(dir, '.tollgate', 'audit');
  const call = readdirSync(auditDir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(auditDir, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l)).find((l) => l.name === 'tollgate.tool_call');
  console.log('JOURNALED ARGUMENTS:', JSON.stringify(call.arguments));
  expect(existsSync(join(dir, 'workspace', 'pwned.txt'))).toBe(true); // the hidden payload did run
  expect(asked.join('\n')).toContain('payload.sh');
  expect(JSON.stringify(call.arguments)).toContain('payload.sh');
});
