// Admin acts from a CLI process: journaled (and exported over OTLP) through the same audit API the gateway uses.
import { userInfo } from 'node:os';
import { openAudit, type Audit, type AuditOptions } from './audit.js';
import type { AuditEventInput } from './events.js';

export type AdminActionInput = Omit<Extract<AuditEventInput, { name: 'tollgate.admin_action' }>, 'name' | 'actor' | 'channel'>;

/** The CLI's actor: the OS account running it (from the OS, not $USER, which any caller can set). */
export function cliActor(): string {
  return `local:${userInfo().username}`;
}

/**
 * Opens the audit trail for one admin act, before the act, so an act that cannot be journaled is not done.
 * `record` journals (fdatasync'ed) and exports it; `close` flushes OTLP and releases the journal.
 * A CLI process writes through openAudit like a gateway does; with the multi-writer journal each process keeps
 * its own chain, so a CLI append never forks the running gateway's chain.
 */
export async function openAdminAudit(opts: AuditOptions): Promise<{ record(e: AdminActionInput): Promise<void>; close(): Promise<void> }> {
  const audit: Audit = await openAudit(opts);
  const actor = cliActor();
  return {
    record: (e) => audit.record({ name: 'tollgate.admin_action', actor, channel: 'cli', ...e }),
    close: () => audit.close(),
  };
}
