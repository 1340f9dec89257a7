// The declaration of `tollgate tokens` (options, help): loaded without the token store.
import { CONFIG_OPTION, type CommandSpec } from '../../cli-args.js';

export const TOKENS_SPEC: CommandSpec = {
  name: 'tokens',
  help: 'Bearer tokens for HTTP agents (Tollgate keeps only their hashes).',
  options: { config: CONFIG_OPTION },
  subcommands: {
    create: { args: 'NAME', positionals: [1, 1], help: 'create a token for identity token:NAME; printed once, alone on stdout', options: { group: { type: 'string', short: 'g', multiple: true, value: 'GROUP', help: 'a group the identity belongs to (rules can match it)' } } },
    list: { help: 'every token: id, name, groups, created, last used, status', options: { json: { type: 'boolean', help: 'machine-readable list' } } },
    revoke: { args: 'ID|NAME', positionals: [1, 1], help: 'revoke a token by id, or every active token of a name' },
  },
};
