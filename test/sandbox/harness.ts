// Test harness: a temp workspace (git init'ed) and a real SDK Client wired to the shell server in memory.
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createShellServer, SANDBOX_PROFILE_META_KEY, ShellServerOptionsSchema, type CreateShellServerOptions, type ShellEvent } from '../../gateway/upstreams/shell.js';

export interface Workspace {
  configDir: string;
  ws: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

/** configDir/ holds tollgate.json and servers.json; configDir/ws is the root; the dataDir is inside it. */
export async function makeWorkspace(): Promise<Workspace> {
  const configDir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-sbx-'));
  const ws = path.join(configDir, 'ws');
  await mkdir(ws);
  execFileSync('git', ['init', '-q', ws]);
  await writeFile(path.join(ws, 'tollgate.json'), '{}\n');
  const dataDir = path.join(ws, 'sub', '.tollgate');
  return { configDir, ws, dataDir, cleanup: () => rm(configDir, { recursive: true, force: true }) };
}

export interface Connected {
  client: Client;
  events: ShellEvent[];
  call(args: Record<string, unknown>, extra?: Parameters<Client['callTool']>[2], profile?: 'read-only' | 'workspace-write' | null): Promise<CallToolResult>;
  close(): Promise<void>;
}

export async function connect(w: Workspace, options: Record<string, unknown>, more: Partial<CreateShellServerOptions> = {}): Promise<Connected> {
  const events: ShellEvent[] = [];
  const server = createShellServer({
    name: 'sh',
    // The workspace root itself is the config dir here, so tollgate.json sits inside a writable root.
    configDir: w.ws,
    dataDir: w.dataDir,
    options: ShellServerOptionsSchema.parse({ roots: ['.'], ...options }),
    onEvent: (e) => events.push(e),
    ...more,
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(b);
  return {
    client,
    events,
    // The pipeline names the profile its decision assumed; these tests exercise the writable one unless they say otherwise.
    call: async (args, extra, profile = 'workspace-write') =>
      (await client.callTool({ name: 'exec', arguments: args, ...(profile ? { _meta: { [SANDBOX_PROFILE_META_KEY]: profile } } : {}) }, undefined, extra)) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

/** A loopback HTTP server that counts the requests it really received. */
export async function loopbackServer(): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const s = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('hello from the loopback test server\n');
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    port: (s.address() as AddressInfo).port,
    hits,
    close: () => new Promise<void>((r) => {
      s.closeAllConnections();
      s.close(() => r());
    }),
  };
}

/** Host pids whose command line contains needle (sees through pid namespaces). */
export async function hostPidsRunning(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = await readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').join(' ').includes(needle)) found.push(Number(d));
  }
  return found;
}
