// SECURITY (expected to FAIL until fixed): an upstream can crash the gateway. A definition change of a tool whose
// namespaced name is "" fails audit validation inside a `void` promise: an unhandled rejection kills the process.
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { TSX, configDir, stdioAgent, type StdioAgent } from '../helpers/gateway.js';

let agent: StdioAgent | undefined;
afterAll(async () => agent?.close().catch(() => undefined));

it('a hostile upstream cannot take the gateway down', async () => {
  const evil = { command: process.execPath, args: ['--import', TSX, join(import.meta.dirname, 'evil-upstream.ts')], prefix: '' };
  const dir = configDir({ evil, other: { command: process.execPath, args: ['--import', TSX, join(import.meta.dirname, 'evil-upstream.ts')] } });
  agent = await stdioAgent(dir);
  await agent.client.callTool({ name: 'flip', arguments: {} });
  await new Promise((r) => setTimeout(r, 1500));
  console.log(agent.stderr());
  // the gateway must still answer
  const tools = await Promise.race([agent.client.listTools(), new Promise((_, no) => setTimeout(() => no(new Error('gateway gone')), 3000))]);
  expect(tools).toBeTruthy();
});
