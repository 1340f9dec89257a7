// Agent tokens in Postgres: a token created through any replica's config authenticates on every replica.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { checkTokenInput, newBearerToken, tokenHash, TOKEN_PREFIX, type TokenInfo, type TokenStore } from '../../server/auth/tokens.js';

type Row = { id: string; identity: string; groups: string[]; created: Date; revoked: Date | null; last_used: Date | null };
const info = (r: Row): TokenInfo => ({
  id: r.id, identity: r.identity, groups: [...r.groups], created: r.created.toISOString(),
  ...(r.last_used ? { lastUsed: r.last_used.toISOString() } : {}), ...(r.revoked ? { revoked: r.revoked.toISOString() } : {}),
});

/**
 * Only sha256 hashes are stored. verify() asks the database on every request (an indexed lookup by hash), so a
 * revocation through any replica holds on every replica at once, and a lost database fails authentication closed.
 * Last-use times are batched, as in the files store.
 */
export function pgTokenStore(pool: pg.Pool): TokenStore {
  const used = new Map<string, Date>();
  let flush: NodeJS.Timeout | undefined;
  const flushUsage = async () => {
    flush = undefined;
    const batch = [...used];
    used.clear();
    await pool.query('UPDATE tollgate.tokens t SET last_used = GREATEST(t.last_used, u.at) FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE t.id = u.id', [batch.map((b) => b[0]), batch.map((b) => b[1])]);
  };
  return {
    async create(identity, opts) {
      const groups = checkTokenInput(identity, opts?.groups);
      const { token, hash } = newBearerToken();
      const id = 'tok_' + randomBytes(5).toString('hex');
      const r = await pool.query<Row>('INSERT INTO tollgate.tokens (id, identity, groups, hash) VALUES ($1, $2, $3, $4) RETURNING *', [id, identity, JSON.stringify(groups), hash]);
      return { id, token, info: info(r.rows[0]!) };
    },
    async list() {
      return (await pool.query<Row>('SELECT * FROM tollgate.tokens ORDER BY created, id')).rows.map(info);
    },
    async revoke(idOrIdentity) {
      // by id if one matches, else every active token of that name; one statement, so a concurrent create is not lost
      const r = await pool.query<Row>(
        `UPDATE tollgate.tokens SET revoked = now()
         WHERE revoked IS NULL AND (id = $1 OR (identity = $1 AND NOT EXISTS (SELECT 1 FROM tollgate.tokens WHERE id = $1)))
         RETURNING *`,
        [idOrIdentity],
      );
      return r.rows.map(info);
    },
    async verify(token) {
      if (!token.startsWith(TOKEN_PREFIX)) return undefined;
      const r = await pool.query<Row>('SELECT * FROM tollgate.tokens WHERE hash = $1 AND revoked IS NULL', [tokenHash(token)]);
      const row = r.rows[0];
      if (!row) return undefined;
      const at = new Date();
      used.set(row.id, at);
      flush ??= setTimeout(() => void flushUsage().catch(() => {}), 5_000).unref();
      return { ...info(row), lastUsed: at.toISOString() };
    },
  };
}
