// The storage layer against a real PostgreSQL server: schema migrations, the journal (durable, verifiable, fail closed
// and recovering), the approvals queue across processes' pools (LISTEN/NOTIFY wake-ups, exactly-once claims).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { openPgStorage, migrate, MIGRATIONS, SCHEMA_VERSION, openDb } from '../../gateway/storage/postgres/index.js';
import { openAudit } from '../../gateway/audit/index.js';
import { DeferredApprovals } from '../../gateway/review/index.js';
import { redactUrl } from '../../gateway/storage/postgres/url.js';

type PgStorage = Awaited<ReturnType<typeof openPgStorage>>;

let server: PgServer;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.destroy();
});

const req = (over: Record<string, unknown> = {}) => ({ sessionId: 's1', identity: 'token:alice', server: 'fs', tool: 'fs__delete', arguments: { path: 'a' }, argsDigest: 'd1', policyReasons: ['ask'], ...over });

describe('schema migrations', () => {
  it('creates the schema once (three replicas migrating at once), then has nothing to do', async () => {
    const url = await server.createDatabase('mig1');
    const dbs = await Promise.all([1, 2, 3].map(() => openDb({ url, poolSize: 2 })));
    try {
      const results = await Promise.all(dbs.map((d) => migrate(d.pool)));
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 0, MIGRATIONS.length]);
      expect((await migrate(dbs[0]!.pool)).applied).toEqual([]);
      const v = await dbs[0]!.pool.query('SELECT version, tollgate_version FROM tollgate.schema_migrations ORDER BY version');
      expect(v.rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, tollgate_version: '0.1.0' })));
      expect(v.rows.at(-1).version).toBe(SCHEMA_VERSION);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  it('refuses a schema from a newer Tollgate, naming both versions', async () => {
    const url = await server.createDatabase('mig2');
    const db = await openDb({ url });
    try {
      await migrate(db.pool);
      await db.pool.query("INSERT INTO tollgate.schema_migrations (version, what, tollgate_version) VALUES (99, 'future', '9.0.0')");
      await expect(migrate(db.pool)).rejects.toThrow(new RegExp(String.raw`schema is at version 99 \(migrated by Tollgate 9\.0\.0\); this Tollgate 0\.1\.0 knows schema versions up to ${SCHEMA_VERSION}`));
      await expect(openPgStorage({ url, migrate: false })).rejects.toThrow(new RegExp(String.raw`version 99, newer than this Tollgate 0\.1\.0 knows \(${SCHEMA_VERSION}\)`));
    } finally {
      await db.close();
    }
  });

  it('an unreachable database is named by host and port, and the password never appears', async () => {
    const url = `postgres://tollgate:hunter2-secret@127.0.0.1:${server.port + 1}/x`;
    const err = await openPgStorage({ url, migrate: true }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`cannot reach the Postgres database at 127\\.0\\.0\\.1:${server.port + 1} \\(ECONNREFUSED`));
    expect((err as Error).message).not.toContain('hunter2');
    expect(redactUrl(url)).toBe(`postgres://tollgate:***@127.0.0.1:${server.port + 1}/x`);
  });
});

describe('the journal in postgres', () => {
  let url: string;
  beforeAll(async () => {
    url = await server.createDatabase('journal');
  });

  it('each writer has its own chain; records are durable once record() resolves; verify passes across chains', async () => {
    const stores = await Promise.all([1, 2].map(() => openPgStorage({ url, migrate: true })));
    const audits = await Promise.all(stores.map((s) => openAudit({ dataDir: '/nonexistent', serviceVersion: 't', otlp: { enabled: false }, openJournal: () => s.openJournal() })));
    try {
      expect(audits[0]!.chain).not.toBe(audits[1]!.chain);
      // concurrent appends share INSERTs (group commit) and keep the chain in order
      await Promise.all(audits.flatMap((a, w) => Array.from({ length: 200 }, (_, i) => a.record({ name: 'tollgate.tool_call', callId: `w${w}-c${i}`, sessionId: 's', tool: 't__x', server: 't', arguments: { i }, argsDigest: `sha256:${'0'.repeat(64)}` }, { sync: i % 2 ? 'soon' : 'now' }))));
      // durable means committed: a separate connection sees every record
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      const n = await other.query('SELECT chain, count(*)::int AS n FROM tollgate.audit_records GROUP BY chain ORDER BY chain');
      await other.end();
      expect(n.rows.map((r) => r.n)).toEqual([200, 200]);
      const report = await stores[0]!.trail.verify();
      expect(report.ok).toBe(true);
      expect(report.records).toBe(400);
      expect(report.chains).toHaveLength(2);
      const loaded = await stores[0]!.trail.load();
      expect(loaded).toHaveLength(400);
      // merged in time order
      const times = loaded.map((l) => Date.parse(l.record.time));
      expect(times.every((t, i) => i === 0 || t >= times[i - 1]!)).toBe(true);
    } finally {
      await Promise.all(audits.map((a) => a.close()));
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('verify finds a modified row and a deleted one, naming the chain and seq', async () => {
    const s = await openPgStorage({ url, migrate: true });
    const a = await openAudit({ dataDir: '/nonexistent', serviceVersion: 't', otlp: { enabled: false }, openJournal: () => s.openJournal() });
    try {
      for (let i = 0; i < 5; i++) await a.record({ name: 'tollgate.tool_decision', callId: `c${i}`, decision: 'approved', source: 'rule', reasons: [] });
      const chain = a.chain;
      await s.db.pool.query(`UPDATE tollgate.audit_records SET line = replace(line, '"approved"', '"denied"') WHERE chain = $1 AND seq = 3`, [chain]);
      let r = await s.trail.verify();
      expect(r.ok).toBe(false);
      expect(r.problem).toMatchObject({ chain, seq: 3, why: expect.stringMatching(/hash does not match/) });
      await s.db.pool.query('DELETE FROM tollgate.audit_records WHERE chain = $1 AND seq = 3', [chain]);
      r = await s.trail.verify();
      expect(r.problem).toMatchObject({ chain, seq: 4, why: expect.stringMatching(/1 record\(s\) deleted/) });
      // leave the database verifiable for the other tests
      await s.db.pool.query('DELETE FROM tollgate.audit_records WHERE chain = $1', [chain]);
    } finally {
      await a.close();
      await s.close();
    }
  });

  it('database lost while serving: records are refused (fail closed); when it returns the chain continues and verifies', async () => {
    const s = await openPgStorage({ url, migrate: true });
    const a = await openAudit({ dataDir: '/nonexistent', serviceVersion: 't', otlp: { enabled: false }, openJournal: () => s.openJournal() });
    try {
      await a.record({ name: 'tollgate.tool_decision', callId: 'before', decision: 'approved', source: 'rule', reasons: [] });
      await server.stop();
      await expect(a.record({ name: 'tollgate.tool_decision', callId: 'during', decision: 'approved', source: 'rule', reasons: [] })).rejects.toThrow(/audit database is unavailable \(cannot reach the Postgres database at 127\.0\.0\.1:\d+/);
      // and every later one, until the database answers again
      await expect(a.record({ name: 'tollgate.tool_decision', callId: 'during2', decision: 'approved', source: 'rule', reasons: [] })).rejects.toThrow(/unavailable/);
      await server.start();
      // recovers: wait on the event (a record that succeeds), not a fixed sleep
      const deadline = Date.now() + 20_000;
      for (;;) {
        const ok = await a.record({ name: 'tollgate.tool_decision', callId: 'after', decision: 'approved', source: 'rule', reasons: [] }).then(() => true, () => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error('the journal did not recover within 20 s of the database returning');
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await s.trail.verify();
      expect(r.ok, JSON.stringify(r.problem)).toBe(true);
      const mine = (await s.trail.load()).filter((l) => l.chain === a.chain).map((l) => l.record.callId);
      expect(mine[0]).toBe('before');
      expect(mine.at(-1)).toBe('after');
      expect(mine).not.toContain('during2');
    } finally {
      await a.close();
      await s.close();
    }
  }, 60_000);
});

describe('the approvals queue in postgres', () => {
  let url: string;
  let a: PgStorage;
  let b: PgStorage;
  beforeAll(async () => {
    url = await server.createDatabase('approvals');
    a = await openPgStorage({ url, migrate: true });
    b = await openPgStorage({ url, migrate: true });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a decision through one pool releases the wait on another (NOTIFY, well before any timeout); the first decision wins', async () => {
    const item = await a.approvals.enqueue(req(), { timeoutMs: 60_000 });
    expect((await b.approvals.list()).map((i) => i.id)).toContain(item.id);
    expect(await b.approvals.getByToken(item.token)).toMatchObject({ id: item.id });
    const ac = new AbortController();
    const waiting = a.approvals.wait(item.id, { signal: ac.signal, timeoutMs: 60_000 });
    const t0 = Date.now();
    await b.approvals.decide(item.id, { decision: 'approve_once', approver: 'cli:root', channel: 'cli' });
    await expect(b.approvals.decide(item.id, { decision: 'deny', channel: 'cli' })).rejects.toThrow(/already decided/);
    const d = await waiting;
    expect(d).toMatchObject({ decision: 'approve_once', approver: 'cli:root' });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await a.approvals.get(item.id)).toBeUndefined(); // removed once acted on
  });

  it('how notifying a person went is seen from every replica, with the client and intent the card shows', async () => {
    const item = await a.approvals.enqueue({ ...req(), client: { name: 'codex-mcp-client', version: '0.171.0' }, intent: 'tidy the repo' }, { timeoutMs: 60_000 });
    expect(await b.approvals.notifiedOf(item.id)).toBeUndefined();
    await a.approvals.noteNotified(item.id, { sent: 0, failed: 1, lastError: 'webhook: HTTP 503' });
    expect(await b.approvals.notifiedOf(item.id)).toEqual({ sent: 0, failed: 1, lastError: 'webhook: HTTP 503' });
    expect(await b.approvals.get(item.id)).toMatchObject({ client: { name: 'codex-mcp-client', version: '0.171.0' }, intent: 'tidy the repo' });
    await b.approvals.decide(item.id, { decision: 'deny', channel: 'cli' });
  });

  it('timeout and cancel are decided by the waiting gateway', async () => {
    const item = await a.approvals.enqueue(req(), { timeoutMs: 60_000 });
    const ac = new AbortController();
    const waiting = a.approvals.wait(item.id, { signal: ac.signal, timeoutMs: 60_000 });
    ac.abort();
    expect((await waiting).decision).toBe('cancel');
    const t = await a.approvals.enqueue(req(), { timeoutMs: 200 });
    expect((await a.approvals.wait(t.id, { signal: new AbortController().signal, timeoutMs: 200 })).decision).toBe('timeout');
    await expect(b.approvals.decide('nosuchid1', { decision: 'deny', channel: 'cli' })).rejects.toThrow(/no pending approval/);
  });

  it('a deferred approval is consumed exactly once when two replicas retry at the same moment', async () => {
    const ttl = () => 60_000;
    const da = new DeferredApprovals({ queue: a.approvals, ttlMs: ttl });
    const db = new DeferredApprovals({ queue: b.approvals, ttlMs: ttl });
    for (let round = 0; round < 10; round++) {
      const key = { identity: 'token:alice', server: 'fs', tool: 'fs__delete', argsDigest: `race-${round}` };
      const item = await da.park(req({ argsDigest: key.argsDigest }));
      expect((await db.take(key)).kind).toBe('pending');
      await b.approvals.decide(item.id, { decision: 'approve_once', approver: 'cli:root', channel: 'cli' });
      const [x, y] = await Promise.all([da.take(key), db.take(key)]);
      expect([x.kind, y.kind].sort()).toEqual(['decided', 'none']);
    }
  });
});

describe('agent tokens in postgres', () => {
  it('a token created through one replica authenticates on another; a revocation holds everywhere at once', async () => {
    const url = await server.createDatabase('tokens');
    const [a, b] = await Promise.all([1, 2].map(() => openPgStorage({ url, migrate: true })));
    try {
      const { id, token } = await a!.tokens!.create('ci-bot', { groups: ['ci', 'ci'] });
      expect(await b!.tokens!.verify(token)).toMatchObject({ id, identity: 'ci-bot', groups: ['ci'] });
      expect(await b!.tokens!.verify(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
      await expect(a!.tokens!.create('bad name', {})).rejects.toThrow(/invalid token name/);
      expect((await b!.tokens!.revoke('ci-bot')).map((t) => t.id)).toEqual([id]);
      expect(await a!.tokens!.verify(token)).toBeUndefined();
      expect((await a!.tokens!.list())[0]).toMatchObject({ id, revoked: expect.any(String) });
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});
