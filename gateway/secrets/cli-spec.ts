// The declaration of `tollgate secrets` (options, help): loaded without the keyring.
import { CONFIG_OPTION, type CommandSpec } from '../cli-args.js';

export const SECRETS_SPEC: CommandSpec = {
  name: 'secrets',
  help: 'Store values that servers.json and tollgate.json reference as {"secret": "NAME"} (OS keyring, or an encrypted file).',
  options: { config: CONFIG_OPTION },
  subcommands: {
    set: { args: 'NAME', positionals: [1, 1], help: 'store a secret; the value is read from stdin (hidden on a terminal), never from arguments' },
    list: { help: 'the names of stored secrets (never their values)', options: { json: { type: 'boolean', help: 'a JSON array of names' } } },
    delete: { args: 'NAME', positionals: [1, 1], help: 'delete a secret' },
  },
};
