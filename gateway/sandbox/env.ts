// Environment scrubbing for sandboxed commands: default-deny, secrets never pass by accident.

/** Names every command needs; anything else must be allowlisted by the admin. */
const SAFE_BASE = ['PATH', 'LANG', 'LANGUAGE', 'TERM', 'TZ', 'USER', 'LOGNAME', 'COLORTERM', 'NO_COLOR', 'FORCE_COLOR', 'LC_*'];

/** Name fragments that mark a variable as a credential. */
const SECRET_NAME = /(KEY|SECRET|TOKEN|PASSW|PASSPHRASE|PWD$|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|SIGNATURE|CERT|BEARER|DSN|CONN(ECTION)?_?STR)/i;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/**
 * Keep the safe base plus allowlisted names (exact, or `PREFIX*`). Secret-looking names are dropped
 * unless the allowlist names them exactly — a pattern like `AWS_*` never lets a key through by accident.
 */
export function scrubEnv(env: Record<string, string | undefined>, allowlist: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (allowlist.includes(name)) {
      out[name] = value;
      continue;
    }
    if (looksSecret(name)) continue;
    if (SAFE_BASE.some((p) => matches(p, name)) || allowlist.some((p) => matches(p, name))) out[name] = value;
  }
  return out;
}
