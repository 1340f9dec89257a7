// Credentials store: upstream secrets in the OS keyring, referenced from config as {"secret"} or {"env"}, resolved in memory only.
export {
  SecretRefSchema,
  SecretValueSchema,
  SecretRefError,
  resolveSecretRef,
  resolveSecretValues,
  knownSecretValues,
  redactKnownSecrets,
  describeRef,
  type SecretRef,
  type SecretValue,
} from './ref.js';
export {
  createSecretStore,
  checkSecretName,
  NoKeyringError,
  SecretNameError,
  type SecretStore,
  type SecretStoreOptions,
  type SecretStoreInfo,
  type SecretBackend,
} from './store.js';
export { secretsCommand, type SecretsCommandOptions } from './command.js';
export { SECRETS_SPEC } from './cli-spec.js';
