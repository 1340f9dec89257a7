// `serve --stdio` answers initialize before its upstreams have started; tools/list waits for them within a bound,
// and a catalog that arrives later is announced with notifications/tools/list_changed.
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ALLOW_ALL, configDir, stdioAgent, until, upstreams, type StdioAgent } from '../helpers/gateway.js';

describe('fast start', () => {
  const agents: StdioAgent[] = [];
  afterEach(async () => {
    await Promise.allSettled(agents.splice(0).map((a) => a.close()));
  });

  it('initialize is answered while an upstream is still starting; tools/list waits for it', async () => {
    const dir = configDir({ slow: upstreams.fixture({ FIXTURE_START_DELAY_MS: '4000' }) }, ALLOW_ALL);
    const agent = await stdioAgent(dir, {}, { TOLLGATE_CATALOG_WAIT_MS: '90000' });
    agents.push(agent);
    // connected (initialize answered) before the gateway saw the upstream's catalog
    expect(agent.stderr()).not.toMatch(/upstream slow \(stdio\): \d+ tools/);
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name)).toContain('slow__echo');
    expect(agent.stderr()).toMatch(/upstream slow \(stdio\): \d+ tools/);
  }, 120_000);

  it('a catalog later than the bound comes with tools/list_changed', async () => {
    const dir = configDir({ fast: upstreams.fixture(), late: upstreams.fixture({ FIXTURE_START_DELAY_MS: '8000' }) }, ALLOW_ALL);
    const agent = await stdioAgent(dir, {}, { TOLLGATE_CATALOG_WAIT_MS: '1500' });
    agents.push(agent);
    let changed = 0;
    agent.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    // the fast one may itself need more than the bound on a loaded machine: wait until it is listed
    const first = await until(async () => {
      const names = (await agent.client.listTools()).tools.map((t) => t.name);
      return names.includes('fast__echo') ? names : undefined;
    }, 'the fast upstream listed', 60_000);
    expect(first).not.toContain('late__echo');
    // every late catalog is announced: re-list on each notification until the late one is there
    let seen = 0;
    await until(async () => {
      if (changed === seen) return false;
      seen = changed;
      return (await agent.client.listTools()).tools.some((t) => t.name === 'late__echo');
    }, 'tools/list_changed bringing the late catalog', 90_000);
  }, 120_000);
});
