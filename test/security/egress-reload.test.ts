// SECURITY (expected to FAIL until fixed): the egress proxy caches every verdict per host:port for its whole lifetime,
// so tightening network policy by editing tollgate.json (hot reload) does not stop an already-allowed destination.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { configDir, stdioAgent, textOf, until, type StdioAgent } from '../helpers/gateway.js';

let agent: StdioAgent | undefined;
let srv: http.Server | undefined;
afterAll(async () => {
  await agent?.close();
  srv?.close();
});

it('a host denied by a reloaded policy is no longer reachable from the sandbox', async () => {
  const hits: string[] = [];
  srv = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('reached\n');
  });
  await new Promise<void>((r) => srv!.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  const base = { rules: [{ shell: ['*'], decision: 'allow', sandbox: 'workspace-write' }], sandbox: { network: 'proxy' } };
  const dir = configDir({ web: { type: 'shell', roots: ['./workspace'], network: 'proxy' } }, { ...base, network: { allowedDomains: ['127.0.0.1'] } });
  // The URL is in a script file, as it would be in any build or test script the agent runs.
  writeFileSync(join(dir, 'workspace', 'fetch.sh'), `curl -sS --max-time 5 http://127.0.0.1:${port}/$1\n`);
  agent = await stdioAgent(dir);
  const curl = async (path: string) => textOf(await agent!.client.callTool({ name: 'web__exec', arguments: { command: `bash fetch.sh ${path}` } }));
  expect(await curl('before')).toContain('reached');
  // The admin now blocks it.
  writeFileSync(join(dir, 'tollgate.json'), JSON.stringify({ ...base, network: { allowedDomains: [], deniedDomains: ['127.0.0.1'] } }));
  await until(() => agent!.stderr().includes('config reloaded'), 'reload');
  const after = await curl('after-deny');
  console.log('after reload:', after, 'server hits:', hits);
  expect(hits).not.toContain('/after-deny');
});
