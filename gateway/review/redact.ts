// Secret redaction for everything that leaves Tollgate towards the reviewer, a human or the state dir.
import { redactText as auditRedactText } from '../audit/index.js';

// Key names that hold secrets: a whole word of the name (`dbPasswd`, `MY_SERVICE_TOKEN`, `x-api-key`, `sessionId`,
// `apiKeys`), or the end of a run-together one (`clientsecret`, `refreshtoken`); never a fragment elsewhere:
// `passthrough`, `authorized` or `tokenizer` hold no secret.
const SECRET_WORDS = new Set(['password', 'passwd', 'passphrase', 'pass', 'pwd', 'secret', 'token', 'apikey', 'credential', 'cookie', 'authorization', 'privatekey', 'accesskey', 'secretkey', 'sessionid', 'authtoken', 'authkey', 'authheader']);
const SECRET_SUFFIX = /(password|passwd|passphrase|secret|token|apikey|credential|privatekey|accesskey|sessionid)s?$/;

function isSecretKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const secret = (w: string) => SECRET_WORDS.has(w) || (w.endsWith('s') && SECRET_WORDS.has(w.slice(0, -1)));
  for (let i = 0; i < words.length; i++) {
    if (secret(words[i]!)) return true;
    if (i + 1 < words.length && secret(words[i]! + words[i + 1]!)) return true;
  }
  return SECRET_SUFFIX.test(words.join(''));
}

// Known credential shapes; each replaced by a marker that still says what kind of thing was there.
const PATTERNS: ReadonlyArray<[kind: string, re: RegExp]> = [
  // private keys: the audit trail's shapes (run first) include them
  ['jwt', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g],
  ['anthropic-key', /\bsk-ant-[A-Za-z0-9_-]{16,}/g],
  ['openai-key', /\bsk-(proj-|svcacct-)?[A-Za-z0-9_-]{20,}/g],
  ['github-token', /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g],
  ['aws-access-key', /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g],
  ['slack-token', /\bxox[abprs]-[A-Za-z0-9-]{10,}/g],
  ['google-api-key', /\bAIza[0-9A-Za-z_-]{35}\b/g],
  ['stripe-key', /\b[rs]k_(live|test)_[A-Za-z0-9]{16,}/g],
  ['bearer', /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{12,}/gi],
];

// `key=value` / `"key": "value"` / `KEY: value`; the key name is checked separately to keep the scan linear.
// Code is not a secret value: `$(…)`, backticks, pipes and redirections end the value, so a payload stays visible.
const ASSIGNMENT = /\b([A-Za-z][A-Za-z0-9_.-]{0,63})(["']?\s*[:=]\s*["']?)([^\s"',;&}$`()<>|]{4,})/g;

/** Replaces known secret shapes in free text: the audit trail's shapes plus the reviewer's broader key names. Pure. */
export function redactText(text: string): string {
  let out = auditRedactText(text);
  for (const [kind, re] of PATTERNS) out = out.replace(re, `[REDACTED:${kind}]`);
  return out.replace(ASSIGNMENT, (m, key: string, sep: string, value: string) =>
    isSecretKey(key) && !value.includes('[REDACTED') ? `${key}${sep}[REDACTED]` : m,
  );
}

/**
 * Deep copy of a JSON-ish value with secrets redacted: every string under a secret-named key (at any depth below it)
 * and secret shapes in other strings. Objects and arrays keep their shape, keys and non-string values: what a person
 * approves shows everything but the secrets. Pure.
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
