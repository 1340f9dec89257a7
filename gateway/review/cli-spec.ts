// The declaration of `tollgate approvals` (options, help): loaded without the approval queue.
import { CONFIG_OPTION, type CommandSpec } from '../cli-args.js';

export const APPROVALS_SPEC: CommandSpec = {
  name: 'approvals',
  help: 'Decide calls waiting for a person, from another terminal.',
  options: { config: CONFIG_OPTION },
  subcommands: {
    list: { help: 'the calls waiting for a decision', options: { json: { type: 'boolean', help: 'machine-readable list' } } },
    approve: {
      args: 'ID',
      positionals: [1, 1],
      missing: 'missing approval ID (see `tollgate approvals list`)',
      help: 'approve a waiting call (once, unless --session or --tool-session)',
      options: {
        session: { type: 'boolean', help: 'also approve identical calls for the rest of the session' },
        'tool-session': { type: 'boolean', help: 'approve this tool for the rest of the session' },
        'add-rule': { type: 'boolean', help: 'approve once and write the offered rule (shown by `approvals list`) to tollgate.json' },
      },
    },
    deny: { args: 'ID', positionals: [1, 1], missing: 'missing approval ID (see `tollgate approvals list`)', help: 'deny a waiting call', options: { reason: { type: 'string', value: 'TEXT', help: 'why; shown to the agent' } } },
  },
};
