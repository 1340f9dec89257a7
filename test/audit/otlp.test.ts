import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openAudit } from '../../gateway/audit/index.js';
import { startOtlpReceiver, type OtlpReceiver } from '../fixtures/otlp-receiver.js';
import { PLANTED_GH, PLANTED_KEY, recordAll, scriptedSession } from './session.js';

const dirs: string[] = [];
const receivers: OtlpReceiver[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-audit-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function journalText(dataDir: string): string {
  const dir = path.join(dataDir, 'audit');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
}

describe('OTLP export', () => {
  it('delivers every event of a scripted session with names, attributes and resource', async () => {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    const events = scriptedSession();
    const audit = await openAudit({ dataDir: tmp(), serviceVersion: '9.9.9', otlp: { endpoint: rx.url, headers: { 'x-tenant': 'blue' } }, env: {} });
    await recordAll(audit, events);
    await audit.close();
    const logs = await rx.waitForLogs(events.length);
    expect(logs.map((l) => l.eventName)).toEqual(events.map((e) => e.name));
    expect(audit.counters()).toMatchObject({ journalRecords: events.length, otlpExported: events.length, otlpFailed: 0 });

    const req = rx.requests[0]!;
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['x-tenant']).toBe('blue');
    expect(logs[0]!.resource).toMatchObject({ 'service.name': 'tollgate', 'service.version': '9.9.9' });

    const call = logs.find((l) => l.eventName === 'tollgate.tool_call')!;
    expect(call.attributes).toMatchObject({
      'mcp.session.id': 's-1', 'gen_ai.tool.call.id': 'c-1', 'gen_ai.tool.name': 'fs__read_file',
      'mcp.method.name': 'tools/call', 'tollgate.identity': 'alice', 'tollgate.server': 'fs',
      'tollgate.arguments': '{"path":"/work/README.md"}',
    });
    // later steps carry the call's context although the pipeline passed only the call id
    const decision = logs.find((l) => l.eventName === 'tollgate.tool_decision' && l.attributes['gen_ai.tool.call.id'] === 'c-3')!;
    expect(decision.attributes).toMatchObject({
      'mcp.session.id': 's-1', 'gen_ai.tool.name': 'sh__exec', 'tollgate.identity': 'alice',
      'tollgate.decision': 'denied', 'tollgate.source': 'user', 'tollgate.reasons': ['human denied: not today'],
    });
    expect(decision.severityText).toBe('WARN');
    const review = logs.find((l) => l.eventName === 'tollgate.review')!;
    expect(review.attributes).toMatchObject({ 'tollgate.model': 'guard-1', 'tollgate.risk_level': 'low', 'tollgate.latency_ms': 840, 'tollgate.auto_approved': true });
    const net = logs.find((l) => l.eventName === 'tollgate.network_decision')!;
    expect(net.attributes).toMatchObject({ 'server.address': 'api.example.com', 'server.port': 443, 'tollgate.decision': 'allow' });
    const start = logs.find((l) => l.eventName === 'tollgate.session_start')!;
    expect(start.attributes).toMatchObject({ 'tollgate.transport': 'http', 'tollgate.capabilities.elicitation_form': true });
    expect(Number(BigInt(call.timeUnixNano) / 1_000_000n)).toBeGreaterThan(Date.parse('2020-01-01'));
  });

  it('keeps the planted secrets out of the journal and the OTLP payload, and prompt text unless opted in', async () => {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    const dataDir = tmp();
    const audit = await openAudit({ dataDir, serviceVersion: '1', otlp: { endpoint: rx.url }, env: {} });
    const events = scriptedSession();
    await recordAll(audit, events);
    await audit.close();
    await rx.waitForLogs(events.length);
    const journal = journalText(dataDir);
    const wire = Buffer.concat(rx.requests.map((r) => r.decoded)).toString('latin1');
    for (const secret of [PLANTED_KEY, PLANTED_GH, 'PLANTEDsecret', 'PLANTEDgh']) {
      expect(journal).not.toContain(secret);
      expect(wire).not.toContain(secret);
    }
    expect(journal).toContain('[REDACTED:');
    expect(journal).not.toContain('please read the readme');
    expect(wire).not.toContain('please read the readme');
    expect(journal).toContain('"length":22');
  });

  it('keeps the prompt text when includeUserPrompt is set', async () => {
    const dataDir = tmp();
    const audit = await openAudit({ dataDir, serviceVersion: '1', includeUserPrompt: true, env: {} });
    await recordAll(audit, scriptedSession().slice(0, 3));
    await audit.close();
    expect(journalText(dataDir)).toContain('please read the readme');
  });

  it('receiver down: record() still resolves and the failure count rises', async () => {
    const rx = await startOtlpReceiver();
    const url = rx.url;
    await rx.close(); // nothing listens on this port now
    const dataDir = tmp();
    const audit = await openAudit({ dataDir, serviceVersion: '1', otlp: { endpoint: url }, env: {} });
    const events = scriptedSession();
    await recordAll(audit, events);
    expect(audit.counters().journalRecords).toBe(events.length);
    await audit.close();
    const c = audit.counters();
    expect(c.otlpExported).toBe(0);
    expect(c.otlpFailed).toBe(events.length);
    expect(journalText(dataDir).trim().split('\n')).toHaveLength(events.length);
  });

  it('collector rejecting the export: failures are counted from the exporter result while the gateway runs', async () => {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    rx.failWith = 400;
    const audit = await openAudit({ dataDir: tmp(), serviceVersion: '1', otlp: { endpoint: rx.url }, env: {} });
    const events = scriptedSession();
    await recordAll(audit, events);
    // the batch goes out after the scheduled delay; wait for its failed result, not for close()
    for (let i = 0; i < 100 && audit.counters().otlpFailed < events.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(audit.counters()).toMatchObject({ journalRecords: events.length, otlpExported: 0, otlpFailed: events.length });
    expect(rx.requests.length + rx.logs.length).toBe(0);
    await audit.close();
  });

  it('falls back to OTEL_EXPORTER_OTLP_ENDPOINT (+/v1/logs) and OTEL_EXPORTER_OTLP_HEADERS', async () => {
    const rx = await startOtlpReceiver();
    receivers.push(rx);
    const audit = await openAudit({
      dataDir: tmp(), serviceVersion: '1',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${rx.port}`, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%20def' },
    });
    await recordAll(audit, scriptedSession().slice(0, 2));
    await audit.close();
    await rx.waitForLogs(2);
    expect(rx.requests[0]!.path).toBe('/v1/logs');
    expect(rx.requests[0]!.headers['x-api-key']).toBe('abc def');
  });

  it('rejects an event that does not match the schema, naming the field', async () => {
    const audit = await openAudit({ dataDir: tmp(), serviceVersion: '1', env: {} });
    await expect(audit.record({ name: 'tollgate.tool_decision', decision: 'maybe', source: 'rule', reasons: [] } as never))
      .rejects.toThrow(/tollgate\.tool_decision: field "decision"/);
    await expect(audit.record({ name: 'tollgate.network_decision', host: 'https://x.com/path?token=1', port: 443, protocol: 'https', decision: 'allow', source: 'r', reasons: [] }))
      .rejects.toThrow(/field "host"/);
    await audit.close();
  });
});
