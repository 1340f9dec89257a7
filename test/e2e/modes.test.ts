// Approval modes per session: an agent can ask for a stricter mode than configured, never a looser one.
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ROOT, configDir, gatewayArgs, httpAgent, httpGateway, runCli, textOf, upstreams } from '../helpers/gateway.js';

describe('approval mode per session', () => {
  it('--mode never-ask denies a call that needs review, without asking anyone', async () => {
    const dir = configDir({ fixture: upstreams.fixture() }, { approvals: { mode: 'human', timeoutSeconds: 60 } });
    const client = new Client({ name: 'ci-agent', version: '1' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: gatewayArgs('serve', '--stdio', '--mode', 'never-ask', '--config', dir), cwd: ROOT, stderr: 'pipe' }));
    try {
      const r = await client.callTool({ name: 'fixture__delete_file', arguments: { path: 'x' } });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/never-ask/);
      const ok = await client.callTool({ name: 'fixture__echo', arguments: { text: 'read-only still runs' } });
      expect(textOf(ok)).toBe('read-only still runs');
    } finally {
      await client.close();
    }
  });

  it('an HTTP agent asks for never-ask with a header; a looser request than configured is ignored; a bad value is refused', async () => {
    const dir = configDir({ fixture: upstreams.fixture() }, { approvals: { mode: 'never-ask' } });
    const gw = await httpGateway(dir);
    try {
      const looser = await httpAgent(gw.url, {}, { ...gw.auth, 'tollgate-approval-mode': 'auto-review' });
      const r = await looser.callTool({ name: 'fixture__delete_file', arguments: { path: 'x' } });
      expect(textOf(r)).toMatch(/never-ask/);
      await looser.close();
      const bad = await fetch(gw.url, {
        method: 'POST',
        headers: { ...gw.auth, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'tollgate-approval-mode': 'yolo' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
      });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toMatch(/Tollgate-Approval-Mode must be/);
    } finally {
      await gw.stop();
    }
  });

  it('rejects --mode with a clear message', async () => {
    const dir = configDir({ fixture: upstreams.fixture() });
    const r = await runCli(['serve', '--stdio', '--mode', 'sometimes', '--config', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--mode must be auto-review, human or never-ask, not "sometimes"/);
  });
});
