// The declaration of `tollgate storage` (options, help): loaded without the storage layer or the database driver.
import { CONFIG_OPTION, type CommandSpec } from '../cli-args.js';

export const STORAGE_SPEC: CommandSpec = {
  name: 'storage',
  help: 'The storage replicas share (tollgate.json "storage"): create or migrate the Postgres schema, show its state.',
  options: { config: CONFIG_OPTION },
  subcommands: {
    migrate: { help: 'create the schema, or bring it to this version of Tollgate (serve does this at start too)' },
    status: { help: 'which storage is configured, where, and the schema version', options: { json: { type: 'boolean', help: 'machine-readable result' } } },
    import: { help: 'copy a files data dir (journal chains, approvals queue, agent tokens) into the configured database', options: { from: { type: 'string', value: 'DIR', help: 'the data dir to read (default: this config\'s dataDir)' } } },
    export: { help: 'copy the database (journal chains, approvals queue, agent tokens) into a files data dir', options: { to: { type: 'string', value: 'DIR', help: 'the data dir to write (default: this config\'s dataDir)' } } },
  },
};
