// The declaration of `tollgate audit` (options, help): loaded without the journal readers.
import { CONFIG_OPTION, type CommandSpec, type OptionSpec } from '../cli-args.js';

const TIME = 'ISO 8601 (2026-05-01T12:00:00Z) or a span back from now (30m, 2h, 7d)';
const FILTERS: Record<string, OptionSpec> = {
  since: { type: 'string', value: 'TIME', help: `records at or after TIME: ${TIME}` },
  until: { type: 'string', value: 'TIME', help: 'records at or before TIME' },
  session: { type: 'string', value: 'ID', help: 'session id, or a prefix of it' },
  identity: { type: 'string', value: 'GLOB', help: 'identity, glob allowed (token:ci-*)' },
  server: { type: 'string', value: 'GLOB', help: 'upstream server name, glob allowed' },
  tool: { type: 'string', value: 'GLOB', help: 'tool name, glob allowed (fs__read_*)' },
  decision: { type: 'string', value: 'D', help: 'allow|review|ask|deny|approved|denied|…' },
  source: { type: 'string', value: 'S', help: 'who decided: rule|grant|automated_reviewer|user|requirements' },
  event: { type: 'string', value: 'NAME', help: 'event name (tool_call or tollgate.tool_call)' },
  host: { type: 'string', value: 'GLOB', help: 'network host, glob allowed (*.github.com)' },
  search: { type: 'string', value: 'TEXT', help: 'free text, case-insensitive, in arguments, reasons and messages' },
};

export const AUDIT_SPEC: CommandSpec = {
  name: 'audit',
  help: 'Read, verify, query and export the audit journal (security teams).',
  options: { config: CONFIG_OPTION },
  subcommands: {
    verify: { help: 'check every journal file and the hash chain', options: { json: { type: 'boolean', help: 'machine-readable result' } } },
    query: {
      help: `list records matching every filter given (times: ${TIME})`,
      options: {
        ...FILTERS,
        limit: { type: 'string', value: 'N', help: 'only the last N matching records' },
        format: { type: 'string', value: 'F', help: 'table (default), jsonl or csv' },
        json: { type: 'boolean', help: 'same as --format jsonl' },
      },
    },
    stats: { help: 'sessions, calls, who decided, agreement, network blocks', options: { since: FILTERS.since!, until: FILTERS.until!, json: { type: 'boolean', help: 'machine-readable result' } } },
    explain: { args: 'CALL_ID', positionals: [1, 1], help: 'the whole story of one call', options: { json: { type: 'boolean', help: 'the records as JSON' } } },
    export: { help: 'every record, for a SIEM', options: { format: { type: 'string', value: 'F', help: 'jsonl (default) or csv' }, since: FILTERS.since!, until: FILTERS.until! } },
    triage: {
      help: 'evidence around an alert, classified by the reviewer model when one is configured',
      options: {
        alert: { type: 'string', value: 'TEXT', help: 'the alert text' },
        around: { type: 'string', value: 'TIME', help: 'when it fired (default now)' },
        window: { type: 'string', value: 'MIN', help: 'minutes either side (default 30)' },
        host: { type: 'string', value: 'H', help: 'the host the alert names' },
        json: { type: 'boolean', help: 'machine-readable result' },
      },
    },
  },
};
