// Upstream links against the real fixture server (a process over stdio, or Streamable HTTP): what happens when an
// agent session ends while its upstream is still starting, when a link closes, and when an upstream forgets sessions.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Upstreams, PinStore, parseRegistry } from '../../gateway/upstreams/index.js';
import type { AgentPeer } from '../../gateway/upstreams/index.js';
import { FIXTURE, TSX, tempDir, until, upstreams } from '../helpers/gateway.js';
import { announcement } from '../helpers/process.js';

const peer = (id: string): AgentPeer => ({ id, capabilities: {}, request: async () => ({}), notify: () => undefined, subscribedTo: () => false });

function gatewayUpstreams(dir: string, servers: Record<string, unknown>, peers: AgentPeer[]) {
  const registry = parseRegistry(join(dir, 'servers.json'), { mcpServers: servers }, dir);
  const byId = new Map(peers.map((p) => [p.id, p]));
  const events: string[] = [];
  const ups = new Upstreams({
    registry,
    separator: '__',
    pins: new PinStore(dir),
    resolveValue: async (v) => String(v),
    peers: { get: (id) => byId.get(id), all: () => byId.values() },
    onEvent: (e) => void events.push(`${e.event}:${e.sessionId ?? 'catalog'}`),
    onDefinitionChanged: () => undefined,
  });
  return { ups, events, forget: (id: string) => byId.delete(id) };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const startedPids = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('started ')).map((l) => Number(l.slice(8)));

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('upstream links', () => {
  it("a session's upstream that is still starting when the session ends is stopped, not left running", async () => {
    const dir = tempDir();
    const eventsFile = join(dir, 'fixture-events');
    const s1 = peer('S1');
    const { ups, forget } = gatewayUpstreams(dir, { fx: upstreams.fixture({ FIXTURE_EVENTS_FILE: eventsFile, FIXTURE_START_DELAY_MS: '1500' }) }, [s1]);
    closers.push(() => ups.close());
    await ups.start(); // the catalog process
    const routed = ups.routeTool('fx__pid', s1); // the session's own process starts (slowly)
    await until(() => startedPids(eventsFile).length === 2, 'the session process to start');
    const sessionPid = startedPids(eventsFile)[1]!;
    forget('S1');
    await ups.closeSession('S1');
    await expect(routed).rejects.toThrow(/closed while it started/);
    await until(() => !alive(sessionPid), 'the session process to exit', 10_000);
    expect(ups.sessionLinkCount()).toBe(0);
  });

  it('tells agents the tool list changed when a restarted upstream comes back with other tools', async () => {
    const dir = tempDir();
    const mutate = join(dir, 'description');
    const { ups } = gatewayUpstreams(dir, { fx: { ...upstreams.fixture({ FIXTURE_MUTATE_FILE: mutate, FIXTURE_MUTATE_WATCH: '0' }), isolation: 'shared' } }, []);
    closers.push(() => ups.close());
    const changed: string[] = [];
    ups.onListChanged((kind) => void changed.push(kind));
    await ups.start();
    expect(ups.listTools().find((t) => t.name === 'fx__weather')?.description).toBe('Read the weather for a city.');
    writeFileSync(mutate, 'Read the weather (upgraded).'); // the next process to start reads this
    const routed = await ups.routeTool('fx__crash', undefined);
    await routed.link.use((c) => c.callTool({ name: 'crash', arguments: {} })).catch(() => undefined);
    await until(() => changed.includes('tools'), 'a tools list_changed after the restart');
    expect(routed.link.tools.get('weather')?.description).toBe('Read the weather (upgraded).');
    expect(changed).not.toContain('prompts'); // only what differs
  });

  it('a server that dies at start is restarted on its backoff schedule, not once per call; calls meanwhile fail fast and say when', async () => {
    const dir = tempDir();
    const { ups, events } = gatewayUpstreams(dir, { dying: { command: process.execPath, args: ['-e', 'process.exit(3)'], isolation: 'shared' } }, []);
    closers.push(() => ups.close());
    await ups.start();
    const errors: string[] = [];
    const until2s = Date.now() + 2000;
    while (Date.now() < until2s) {
      await ups.routeTool('dying__anything', undefined).then(
        () => errors.push('routed?'),
        (e: Error) => errors.push(e.message),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    const starts = events.filter((e) => e.startsWith('failed:')).length;
    expect(errors.length).toBeGreaterThan(20);
    expect(starts).toBeLessThanOrEqual(5); // 0 s, +0.25, +0.5, +1 s (and maybe +2 s): not one per call
    expect(errors.some((m) => /upstream "dying" is unavailable: .*; the next restart is in \d+ s/.test(m))).toBe(true);
  });

  it('lists a changed tool with the approved fields only: a field the approved definition lacked is not filled from the live one', async () => {
    const dir = tempDir();
    // an approval from before the tool had a description
    mkdirSync(join(dir, 'pins'), { recursive: true });
    const approved = { name: 'weather', inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
    writeFileSync(join(dir, 'pins', 'fx__weather.json'), JSON.stringify({ tool: 'fx__weather', hash: 'an-older-definition', approvedAt: '2026-01-01T00:00:00.000Z', approvedBy: 'alice', definition: approved }));
    const { ups } = gatewayUpstreams(dir, { fx: { ...upstreams.fixture(), isolation: 'shared' } }, []);
    closers.push(() => ups.close());
    await ups.start();
    const listed = ups.listTools().find((t) => t.name === 'fx__weather')!;
    expect(listed).toEqual({ name: 'fx__weather', inputSchema: approved.inputSchema });
    expect(JSON.stringify(ups.listTools())).not.toContain('Read the weather for a city.');
  });

  describe('over Streamable HTTP', () => {
    let proc: ChildProcess;
    let base: string;
    beforeAll(async () => {
      proc = spawn(process.execPath, ['--import', TSX, FIXTURE, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      base = `http://127.0.0.1:${(await announcement(proc, proc.stdout!, /listening (\d+)/, { what: 'fixture upstream' }).match)[1]}`;
    });
    afterAll(() => {
      proc?.kill();
    });
    const openSessions = async () => ((await (await fetch(`${base}/sessions`)).json()) as { open: number }).open;

    it('ends its upstream sessions (DELETE) when agent sessions end and when the gateway stops', async () => {
      const dir = tempDir();
      const agents = [peer('A'), peer('B'), peer('C')];
      const { ups } = gatewayUpstreams(dir, { web: { url: `${base}/mcp` } }, agents);
      await ups.start();
      for (const a of agents) await (await ups.routeTool('web__echo', a)).link.start();
      expect(await openSessions()).toBe(4); // the catalog's and one per agent session
      await ups.closeSession('A');
      await ups.closeSession('B');
      expect(await openSessions()).toBe(2);
      await ups.close();
      expect(await openSessions()).toBe(0);
    });

    it('calls that meet a forgotten session together share one re-initialisation and all succeed', async () => {
      const dir = tempDir();
      const a = peer('A');
      const { ups, events } = gatewayUpstreams(dir, { web: { url: `${base}/mcp`, isolation: 'shared' } }, [a]);
      closers.push(() => ups.close());
      await ups.start();
      const routed = await ups.routeTool('web__echo', a);
      await fetch(`${base}/forget`, { method: 'POST' }); // the upstream restarts and forgets every session
      const results = await Promise.all(
        [1, 2, 3, 4].map((i) => routed.link.use((c) => c.callTool({ name: 'echo', arguments: { text: `call ${i}` } }))),
      );
      expect(results.map((r) => (r.content as Array<{ text: string }>)[0]!.text)).toEqual(['call 1', 'call 2', 'call 3', 'call 4']);
      expect(events.filter((e) => e.startsWith('reinitialized')).length).toBe(1);
    });
  });
});

describe('servers.json entries that would misbehave are refused when the file is read, naming the field', () => {
  const problems = (servers: Record<string, unknown>) => {
    try {
      parseRegistry('/cfg/servers.json', { mcpServers: servers }, '/cfg');
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('a shell entry with a misspelt or invalid option', () => {
    expect(problems({ sh: { type: 'shell', roots: ['.'], protectedPath: ['.env'] } })).toMatch(/servers\.json: mcpServers\.sh: .*protectedPath/);
    expect(problems({ sh: { type: 'shell', roots: ['.'], maxOutputBytes: 12 } })).toMatch(/mcpServers\.sh\.maxOutputBytes: .*1024/);
    expect(problems({ sh: { type: 'shell', roots: ['.'], defaultTimeoutSeconds: 900, maxTimeoutSeconds: 60 } })).toMatch(/mcpServers\.sh\.defaultTimeoutSeconds: must not exceed maxTimeoutSeconds/);
    expect(problems({ sh: { type: 'shell', roots: ['.'], protectedPaths: ['.env'], network: 'proxy' } })).toBe('');
  });

  it('a prefix whose tool names would run into the separator', () => {
    expect(problems({ gh_: { command: 'x' } })).toMatch(/mcpServers\.gh_: "gh_" ends with "_", so its tool names would run into the separator "__"/);
    expect(problems({ a: { command: 'x', prefix: 'b__c' } })).toMatch(/mcpServers\.a\.prefix: "b__c" contains the tool separator "__"/);
    expect(problems({ gh: { command: 'x' }, 'gh-tools': { command: 'y' } })).toBe('');
  });
});
