// What the reviewer, a person and the state dir see: the audit trail's one redactor (gateway/audit/redact.ts: one
// secret-key test, one text scrubber), presented so an approver still sees the shape of what they approve.
import { isSecretKey, redactText } from '../audit/redact.js';

export { redactText };

/**
 * Deep copy of a JSON-ish value with secrets redacted: every string under a secret-named key (at any depth below it)
 * and secret shapes in other strings. Objects and arrays keep their shape, keys and non-string values (the journal,
 * instead, replaces a secret key's whole value): what a person approves shows everything but the secrets. Pure.
 */
export function redactValue(value: unknown, depth = 0, underSecretKey = false): unknown {
  if (depth > 32) return '[REDACTED:too-deep]';
  if (typeof value === 'string') return underSecretKey && value !== '' ? '[REDACTED]' : redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, underSecretKey));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, depth + 1, underSecretKey || isSecretKey(k));
    return out;
  }
  return value;
}
