// Agent identity: bearer tokens and OIDC access tokens for HTTP, the OS user for stdio, and the `tokens` CLI.
import { userInfo } from 'node:os';

export {
  authenticator,
  type Authenticator,
  type AuthenticatorOptions,
  type AuthResult,
  type OidcOptions,
} from './authenticator.js';
export { createTokenStore, TokenInputError, TOKEN_PREFIX, checkTokenInput, newBearerToken, tokenHash, type TokenStore, type TokenInfo } from './tokens.js';
export { requireAuth, protectedResourceMetadata, type AuthVariables, type ProtectedResourceOptions } from './http.js';
export { tokensCommand, type TokensCommandOptions } from './command.js';
export { TOKENS_SPEC } from './cli-spec.js';

/** Identity of a stdio session: the OS user running the gateway, e.g. `local:alice`. */
export function localIdentity(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    // no passwd entry (some containers): fall back to the numeric uid
    return `local:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}
