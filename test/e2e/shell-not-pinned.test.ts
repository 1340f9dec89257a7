// Enabling a shell option changes the built-in shell tool's definition (its description and schema come from the
// admin's config). That is Tollgate's own tool, not an upstream pulling the rug: it is not pinned, never blocked.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, runCli, stdioAgent, textOf, type StdioAgent } from '../helpers/gateway.js';

let agent: StdioAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

describe('the built-in shell tool', () => {
  it('stays callable when an admin changes its options, and is never listed as a changed pin', async () => {
    const dir = configDir({ sh: { type: 'shell', roots: ['./workspace'] } }, { rules: [{ tool: 'sh__exec', decision: 'allow', justification: 'test' }] });
    agent = await stdioAgent(dir);
    const before = (await agent.client.listTools()).tools.find((t) => t.name === 'sh__exec')!;
    expect(textOf(await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'echo one' } }))).toContain('one');
    await agent.close();

    const servers = JSON.parse(readFileSync(join(dir, 'servers.json'), 'utf8'));
    servers.mcpServers.sh.defaultTimeoutSeconds = 30;
    servers.mcpServers.sh.maxTimeoutSeconds = 60;
    writeFileSync(join(dir, 'servers.json'), JSON.stringify(servers));
    agent = await stdioAgent(dir);
    const after = (await agent.client.listTools()).tools.find((t) => t.name === 'sh__exec')!;
    expect(JSON.stringify(after.inputSchema)).not.toEqual(JSON.stringify(before.inputSchema)); // the definition did change
    const r = await agent.client.callTool({ name: 'sh__exec', arguments: { command: 'echo two' } });
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect(textOf(r)).toContain('two');
    const list = await runCli(['tools', 'list', '--config', dir]);
    expect(list.stdout).not.toMatch(/sh__exec/);
    expect(existsSync(join(dir, '.tollgate', 'state', 'pins'))).toBe(true); // the pin store exists; the shell is simply not in it
  }, 60_000);
});
