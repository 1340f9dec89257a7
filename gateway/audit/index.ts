// Audit trail: event schema, hash-chained journal, OTLP export, redaction and the security team's CLI.
export { openAudit, type Audit, type AuditOptions, type AuditCounters } from './audit.js';
export {
  AuditEventInputSchema, EVENT_NAMES, type AuditEvent, type AuditEventInput, type AuditEventName, type JournalRecord,
} from './events.js';
export { redact, redactText, DEFAULT_MAX_FIELD_BYTES, type RedactOptions } from './redact.js';
export { sha256Digest, canonicalJson } from './chain.js';
export { openAdminAudit, cliActor, type AdminActionInput } from './admin.js';
export { auditCommand, type AuditCommandOptions } from './cli.js';
export { AUDIT_SPEC } from './cli-spec.js';
export { verifyJournal, type VerifyReport } from './verify.js';
export type { TornTail, Sync } from './journal.js';
