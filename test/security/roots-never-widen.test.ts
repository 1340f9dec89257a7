// SECURITY: an agent's MCP roots are not relayed as they are — a client declaring `/` does not widen what the
// filesystem server may touch beyond the admin's ./workspace.
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ALLOW_ALL, ROOT, configDir, stdioAgent, textOf, until, type StdioAgent } from '../helpers/gateway.js';
import { intersectRoots } from '../../gateway/upstreams/roots.js';
import { parseRegistry } from '../../gateway/upstreams/registry.js';

const FS_SERVER = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');

let agent: StdioAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

async function allowedDirs(fs: Record<string, unknown>, clientRoots: string[], expectAsked: boolean): Promise<{ dir: string; text: string; asked: number }> {
  const dir = configDir({ fs: { command: 'node', args: [FS_SERVER, './workspace'], ...fs } }, ALLOW_ALL);
  mkdirSync(join(dir, 'workspace', 'sub'));
  agent = await stdioAgent(dir, { capabilities: { roots: { listChanged: true } } });
  let asked = 0;
  agent.client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked++;
    return { roots: clientRoots.map((p) => ({ uri: `file://${p}`, name: 'agent root' })) };
  });
  // The filesystem server asks for roots right after it is initialised (on first use), before it answers the call.
  await agent.client.callTool({ name: 'fs__list_allowed_directories', arguments: {} });
  if (expectAsked) await until(() => asked > 0, 'the upstream asking for roots');
  const r = (await agent.client.callTool({ name: 'fs__list_allowed_directories', arguments: {} })) as CallToolResult;
  return { dir: realpathSync(dir), text: textOf(r), asked };
}

describe('roots never widen reach', () => {
  it('default ("config", none configured): a client declaring / still sees only ./workspace', async () => {
    const { dir, text, asked } = await allowedDirs({}, ['/'], false);
    expect(asked).toBe(0); // the upstream is not offered the agent's roots at all
    expect(text).toContain(join(dir, 'workspace'));
    expect(text.split('\n').map((l) => l.trim())).not.toContain('/');
  });

  it('"client": the agent\'s roots are intersected with the configured ones', async () => {
    const { dir, text } = await allowedDirs({ roots: { relay: 'client', within: ['./workspace'] } }, ['/'], true);
    expect(text).toContain(join(dir, 'workspace'));
    expect(text.split('\n').map((l) => l.trim())).not.toContain('/');
  });
});

describe('intersectRoots', () => {
  const policy = { mode: 'client' as const, dirs: ['/srv/ws'] };
  it('keeps roots inside, narrows roots that hold a configured dir, drops the rest', () => {
    expect(intersectRoots({ roots: [{ uri: 'file:///' }] }, policy).map((r) => r.uri)).toEqual(['file:///srv/ws']);
    expect(intersectRoots({ roots: [{ uri: 'file:///srv/ws/pkg' }] }, policy).map((r) => r.uri)).toEqual(['file:///srv/ws/pkg']);
    expect(intersectRoots({ roots: [{ uri: 'file:///srv/ws/../other' }, { uri: 'https://x/' }, { uri: 'file:///etc' }] }, policy)).toEqual([]);
    expect(intersectRoots({ nonsense: true }, policy)).toEqual([]);
  });
});

describe('servers.json roots field', () => {
  const parse = (roots: unknown) => parseRegistry('/cfg/servers.json', { mcpServers: { fs: { command: 'node', args: [], roots } } }, '/cfg');
  it('resolves configured directories against the config dir', () => {
    const spec = parse(['./workspace']).servers[0]!;
    expect(spec.kind === 'stdio' && spec.roots).toEqual({ mode: 'config', dirs: ['/cfg/workspace'] });
    const c = parse({ relay: 'client', within: ['/srv/a'] }).servers[0]!;
    expect(c.kind === 'stdio' && c.roots).toEqual({ mode: 'client', dirs: ['/srv/a'] });
  });
  it('refuses anything else, naming the file and field', () => {
    expect(() => parse('everything')).toThrow(/servers\.json.*mcpServers\.fs\.roots/);
    expect(() => parse({ relay: 'client', within: 'x' })).toThrow(/mcpServers\.fs\.roots/);
  });
});
