// A real agent waits on a call through the real gateway; a person approves or denies it in the console, in Chromium.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { configDir, httpAgent, httpGateway, runCli, textOf, until, upstreams, type HttpGateway } from '../helpers/gateway.js';

const SHOTS = resolve(import.meta.dirname, '..', '..', 'test-artifacts', 'e2e-console');
const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('console approvals for an agent waiting on the gateway', () => {
  let dir: string;
  let gw: HttpGateway;
  let agent: Client;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // No reviewer, and an agent without elicitation: a call that needs review waits in the approvals queue.
    dir = configDir({ fixture: upstreams.fixture() }, { approvals: { mode: 'human', timeoutSeconds: 120, channels: ['queue'], clientTimeoutSeconds: 600 } });
    gw = await httpGateway(dir);
    base = new URL(gw.url).origin;
    const admin = await runCli(['tokens', 'create', 'alice', '--group', 'admin', '--config', dir]);
    expect(admin.code).toBe(0);
    agent = await httpAgent(gw.url, {}, gw.auth);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
    await page.goto(`${base}/console/login`);
    await page.fill('#token', admin.stdout.trim());
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
  });

  afterAll(async () => {
    await browser?.close();
    await agent?.close().catch(() => undefined);
    await gw?.stop();
  });

  async function pendingCard(tool: string) {
    return until(async () => {
      await page.goto(`${base}/console/approvals`);
      const card = page.locator('[id^=approval-]', { hasText: tool });
      return (await card.count()) > 0 ? card.first() : undefined;
    }, `a pending approval for ${tool}`);
  }

  it('approve once in the console: the waiting call completes, and the audit names the approver', async () => {
    const call = agent.callTool({ name: 'fixture__delete_file', arguments: { path: 'notes/old.txt' } });
    const card = await pendingCard('fixture__delete_file');
    const text = (await card.textContent())!;
    expect(text).toContain('notes/old.txt');
    expect(text).toContain('token:test-agent');
    await page.screenshot({ path: join(SHOTS, 'pending.png'), fullPage: true });
    await Promise.all([page.waitForURL(/done=approve_once/), card.locator('button[value=approve_once]').click()]);
    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('deleted notes/old.txt');

    await page.goto(`${base}/console/audit?event=human_decision`);
    const row = page.locator('#audit-table tbody tr').first();
    await expect(row.textContent()).resolves.toContain('approve_once by token:alice');
    await page.screenshot({ path: join(SHOTS, 'audit.png'), fullPage: true });
  });

  it('deny with a reason in the console: the agent gets an error naming who denied it and why', async () => {
    const call = agent.callTool({ name: 'fixture__delete_file', arguments: { path: 'src/main.ts' } });
    const card = await pendingCard('src/main.ts');
    await card.locator('input[name=reason], textarea[name=reason]').first().fill('that file is still in use');
    await Promise.all([page.waitForURL(/done=deny/), card.locator('button[value=deny]').click()]);
    const result = await call;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('token:alice');
    expect(textOf(result)).toContain('The person wrote: "that file is still in use"');
    expect(textOf(result)).not.toMatch(/workarounds are not allowed/);
    await page.screenshot({ path: join(SHOTS, 'denied.png'), fullPage: true });
  });

  it('journals both decisions with the approver, and the journal verifies', async () => {
    const q = await runCli(['audit', 'query', '--json', '--event', 'tollgate.human_decision', '--config', dir]);
    expect(q.code).toBe(0);
    const text = q.stdout;
    expect(text).toContain('token:alice');
    expect(text).toContain('approve_once');
    expect(text).toContain('that file is still in use');
    const v = await runCli(['audit', 'verify', '--config', dir]);
    expect(v.code).toBe(0);
    // nothing pending is left behind
    const left = readdirSync(join(dir, '.tollgate', 'state', 'approvals')).filter((f) => f.endsWith('.json'));
    expect(left).toEqual([]);
  });

  // last: the rule it adds lets later delete_file calls through
  it('approve and add the rule in the console: the card shows the rule, tollgate.json gets it, the journal says who', async () => {
    const call = agent.callTool({ name: 'fixture__delete_file', arguments: { path: 'notes/rule.txt' } });
    const card = await pendingCard('notes/rule.txt');
    expect(await card.locator('[data-proposal]').textContent()).toContain('always allow fixture__delete_file with any arguments for token:test-agent');
    await Promise.all([page.waitForURL(/done=approve_add_rule/), card.locator('button[value=approve_add_rule]').click()]);
    expect(textOf(await call)).toBe('deleted notes/rule.txt');
    const rules = (JSON.parse(readFileSync(join(dir, 'tollgate.json'), 'utf8')) as { rules: Array<Record<string, unknown>> }).rules;
    expect(rules.at(-1)).toMatchObject({ tool: 'fixture__delete_file', decision: 'allow', identities: ['token:test-agent'] });
    const q = await runCli(['audit', 'query', '--json', '--event', 'admin_action', '--config', dir]);
    const acts = q.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(acts.find((a) => a.action === 'policy.rule_added')).toMatchObject({ actor: 'token:alice', channel: 'console', tool: 'fixture__delete_file' });
    await page.screenshot({ path: join(SHOTS, 'rule-added.png'), fullPage: true });
  });
});
