import { z } from 'zod';
import type { SecretStore } from './store.js';

/** A reference to a credential kept outside config files: a keyring entry or an environment variable. */
export const SecretRefSchema = z.union([
  z.strictObject({ secret: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'a secret name: letters, digits, ".", "_", "-"') }),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
]);
export type SecretRef = z.infer<typeof SecretRefSchema>;

/** A servers.json header/env value: a literal string or a SecretRef. */
export const SecretValueSchema = z.union([z.string(), SecretRefSchema]);
export type SecretValue = z.infer<typeof SecretValueSchema>;

export class SecretRefError extends Error {
  override name = 'SecretRefError';
}

export { knownSecretValues, redactKnownSecrets, rememberSecretValue } from './known.js';
import { rememberSecretValue } from './known.js';

export function describeRef(ref: SecretRef): string {
  return 'secret' in ref ? `{"secret": "${ref.secret}"}` : `{"env": "${ref.env}"}`;
}

/** Resolves one reference. Errors name the reference, never a value; fails closed on a missing or empty value. */
export async function resolveSecretRef(
  ref: SecretRef,
  store: SecretStore | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw new SecretRefError(`${describeRef(ref)}: environment variable ${ref.env} is not set or is empty`);
    }
    rememberSecretValue(value);
    return value;
  }
  if (!store) throw new SecretRefError(`${describeRef(ref)}: no secret store is configured`);
  let value: string | undefined;
  try {
    value = await store.get(ref.secret);
  } catch (err) {
    throw new SecretRefError(`${describeRef(ref)}: ${(err as Error).message}`);
  }
  if (value === undefined) {
    throw new SecretRefError(
      `${describeRef(ref)}: no secret named "${ref.secret}" in the keyring; set it with \`tollgate secrets set ${ref.secret}\``,
    );
  }
  rememberSecretValue(value);
  return value;
}

/**
 * Resolves a header/env map from servers.json. `where` names the field for errors,
 * e.g. `servers.json mcpServers.docs.headers`.
 */
export async function resolveSecretValues(
  values: Record<string, SecretValue> | undefined,
  opts: { store: SecretStore | undefined; env: NodeJS.ProcessEnv; where: string },
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values ?? {})) {
    if (typeof value === 'string') {
      out[key] = value;
      continue;
    }
    try {
      out[key] = await resolveSecretRef(value, opts.store, opts.env);
    } catch (err) {
      throw new SecretRefError(`${opts.where}.${key}: ${(err as Error).message}`);
    }
  }
  return out;
}
