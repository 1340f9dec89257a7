// `tollgate storage migrate | status`: the shared database's schema, made and checked by Tollgate itself.
import type { ParsedArgs } from '../cli-args.js';
import type { Io } from '../io.js';
import type { StorageConfig } from '../policy/schema.js';
import type { SecretStore } from '../secrets/index.js';
import { resolve } from 'node:path';
import { storageUrl } from './index.js';

export { STORAGE_SPEC } from './cli-spec.js';

export async function storageCommand(parsed: ParsedArgs, io: Io, opts: { config: StorageConfig; dataDir: string; stateDir: string; secrets?: () => SecretStore }): Promise<number> {
  const out = (s: string) => io.stdout.write(`${s}\n`);
  if (opts.config.kind === 'files' && (parsed.sub === 'import' || parsed.sub === 'export')) {
    throw new Error(`storage ${parsed.sub} moves data between a files data dir and Postgres: set "storage": {"kind": "postgres", "url": …} in tollgate.json first`);
  }
  if (opts.config.kind === 'files') {
    if (parsed.sub === 'status' && parsed.values.json) out(JSON.stringify({ kind: 'files', where: opts.dataDir }));
    else out(`storage: files in ${opts.dataDir}${parsed.sub === 'migrate' ? ' — there is no schema to migrate (set "storage": {"kind": "postgres", "url": …} in tollgate.json to share state between replicas)' : ''}`);
    return 0;
  }
  const url = await storageUrl(opts.config, io.env, opts.secrets);
  const { openDb, migrate, SCHEMA_VERSION } = await import('./postgres/index.js');
  const db = await openDb({ url, poolSize: 2 });
  try {
    if (parsed.sub === 'import' || parsed.sub === 'export') {
      await migrate(db.pool);
      const { importFiles, exportToFiles } = await import('./transfer.js');
      const dir = resolve(io.cwd, (parsed.values[parsed.sub === 'import' ? 'from' : 'to'] as string | undefined) ?? opts.dataDir);
      const r = parsed.sub === 'import' ? await importFiles(db.pool, dir) : await exportToFiles(db.pool, dir);
      const records = r.chains.reduce((n, c) => n + c.records, 0);
      out(`${parsed.sub === 'import' ? `imported ${dir} into ${db.where}` : `exported ${db.where} into ${dir}`}: ${r.chains.length} chain(s), ${records} record(s), ${r.approvals} approval item(s), ${r.tokens} token(s), ${r.pins} tool pin(s)`);
      for (const c of r.chains) out(`  chain ${c.from} → ${c.to}: ${c.records} record(s)`);
      for (const sk of r.skipped) out(`  skipped ${sk}`);
      return 0;
    }
    if (parsed.sub === 'migrate') {
      const r = await migrate(db.pool);
      out(r.applied.length
        ? `storage: postgres at ${db.where}: schema migrated from version ${r.from} to ${r.to} (applied ${r.applied.join(', ')})`
        : `storage: postgres at ${db.where}: schema already at version ${r.to}, nothing to do`);
      return 0;
    }
    let version = 0;
    try {
      version = (await db.pool.query<{ v: number | null }>('SELECT max(version) AS v FROM tollgate.schema_migrations')).rows[0]?.v ?? 0;
    } catch (e) {
      if ((e as { code?: string }).code !== '42P01') throw e;
    }
    const counts = version ? (await db.pool.query<{ chains: string; records: string; approvals: string }>('SELECT (SELECT count(*) FROM tollgate.audit_chains) AS chains, (SELECT count(*) FROM tollgate.audit_records) AS records, (SELECT count(*) FROM tollgate.approvals) AS approvals')).rows[0] : undefined;
    const status = { kind: 'postgres', where: db.where, schemaVersion: version, knownVersion: SCHEMA_VERSION, chains: Number(counts?.chains ?? 0), records: Number(counts?.records ?? 0), approvals: Number(counts?.approvals ?? 0) };
    if (parsed.values.json) out(JSON.stringify(status));
    else out(`storage: postgres at ${db.where}: schema version ${version} (this Tollgate: ${SCHEMA_VERSION})${version < SCHEMA_VERSION ? ' — run `tollgate storage migrate`' : ''}; ${status.chains} journal chain(s), ${status.records} record(s), ${status.approvals} approval item(s)`);
    return version === SCHEMA_VERSION ? 0 : 1;
  } finally {
    await db.close();
  }
}
