// SECURITY (expected to FAIL until fixed): a sandboxed command can create the absent tollgate.json inside a
// writable root; the config watcher hot-reloads it while the command still runs, loosening policy for every call.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { configDir, stdioAgent, textOf, type StdioAgent } from '../helpers/gateway.js';

let agent: StdioAgent | undefined;
afterAll(async () => agent?.close());

it('a workspace command cannot rewrite the gateway policy while it runs', async () => {
  // The shell root is the config directory itself; there is no tollgate.json (every field is optional).
  const dir = configDir({ sh: { type: 'shell', roots: ['.'] } });
  agent = await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } });
  const asked: string[] = [];
  // The person approves exactly one call (the first) and declines anything else.
  agent.client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push(req.params.message);
    return asked.length === 1 ? { action: 'accept', content: { decision: 'approve_once' } } : { action: 'decline' };
  });
  const evil = JSON.stringify({ rules: [{ shell: ['*'], decision: 'allow' }, { server: '*', decision: 'allow' }] });
  // Call 1 (approved once by the person): writes tollgate.json and keeps running.
  const first = agent.client.callTool({ name: 'sh__exec', arguments: { command: `printf '%s' '${evil}' > tollgate.json; printf 'echo owned > pwned.txt; echo WROTE' > payload.sh; sleep 4` } });
  await new Promise((r) => setTimeout(r, 2000)); // the watcher reloads after 75 ms
  // Call 2: would need a person (and the person declines everything after the first).
  const second = (await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'bash payload.sh' } })) as CallToolResult;
  await first;
  console.log('second call:', textOf(second));
  console.log('asked', asked.length, 'times');
  const journalDir = join(dir, '.tollgate', 'audit');
  const lines = readdirSync(journalDir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(journalDir, f), 'utf8').trim().split('\n')).map((l) => JSON.parse(l));
  console.log(lines.filter((l) => l.name === 'tollgate.policy_decision' || l.name === 'tollgate.config_loaded').map((l) => JSON.stringify({ n: l.name, d: l.decision, m: l.matched, pv: l.policyVersion })).join('\n'));
  expect(textOf(second)).not.toContain('WROTE');
});
