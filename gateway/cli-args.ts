// One argument parser for the whole CLI (node:util parseArgs underneath): every command declares its
// subcommands and flags once, and the same declaration refuses unknown flags and prints `--help`.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help for a string option, e.g. DIR. */
  value?: string;
  help: string;
}

/** `--config DIR`, which every command that works on a config directory takes. */
export const CONFIG_OPTION: OptionSpec = { type: 'string', value: 'DIR', help: 'config directory (default: the current directory)' };

export interface SubcommandSpec {
  /** Positional arguments as shown in help, e.g. `NAME` or `CALL_ID`. */
  args?: string;
  /** How many positionals it takes: [min, max]; default none. */
  positionals?: [number, number];
  help: string;
  options?: Record<string, OptionSpec>;
  /** What to say when positionals are missing (default: "<command> needs ARGS"). */
  missing?: string;
}

export interface CommandSpec {
  name: string;
  help: string;
  /** Options every subcommand accepts (e.g. --config). */
  options?: Record<string, OptionSpec>;
  /** Without subcommands, the command itself takes these positionals. */
  positionals?: [number, number];
  args?: string;
  subcommands?: Record<string, SubcommandSpec>;
  /** Subcommand used when none is given (e.g. `tools` → `list`). */
  defaultSubcommand?: string;
}

/** Bad command line: the message says what is wrong; `usage` is the help of the (sub)command concerned. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly usage = '',
  ) {
    super(message);
  }
}

export type ParsedArgs = {
  sub?: string;
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
};

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

function flagLabel(name: string, o: OptionSpec): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const entries = Object.entries(options);
  const labels = entries.map(([n, o]) => flagLabel(n, o) + (o.multiple ? ' (repeatable)' : ''));
  const width = Math.max(0, ...labels.map((l) => l.length));
  return entries.map(([, o], i) => `  ${labels[i]!.padEnd(width)}  ${o.help}`);
}

/** One line per subcommand with every flag it accepts: what the top-level help lists. */
export function synopsis(spec: CommandSpec): string[] {
  const flags = (opts: Record<string, OptionSpec> = {}) => Object.entries(opts).map(([n, o]) => `[${flagLabel(n, o).replace(/^-., /, '')}${o.multiple ? '...' : ''}]`);
  const common = flags(spec.options);
  if (!spec.subcommands) return [['tollgate', spec.name, spec.args, ...flags(), ...common].filter(Boolean).join(' ')];
  return Object.entries(spec.subcommands).map(([name, s]) => ['tollgate', spec.name, name, s.args, ...flags(s.options), ...common].filter(Boolean).join(' '));
}

/** The help text of a command, or of one of its subcommands. */
export function usageOf(spec: CommandSpec, sub?: string): string {
  const s = sub ? spec.subcommands?.[sub] : undefined;
  if (s) {
    const lines = [`usage: tollgate ${spec.name} ${sub}${s.args ? ` ${s.args}` : ''} [options]`, '', s.help, '', 'options:', ...optionLines({ ...s.options, ...spec.options, help: HELP_OPTION })];
    return `${lines.join('\n')}\n`;
  }
  const lines = [`usage: tollgate ${spec.name}${spec.subcommands ? ' <subcommand>' : ''}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.help];
  if (spec.subcommands) {
    const subs = Object.entries(spec.subcommands);
    const width = Math.max(...subs.map(([n, x]) => `${n}${x.args ? ` ${x.args}` : ''}`.length));
    lines.push('', 'subcommands:', ...subs.map(([n, x]) => `  ${`${n}${x.args ? ` ${x.args}` : ''}`.padEnd(width)}  ${x.help.split('\n')[0]}`));
    lines.push('', `\`tollgate ${spec.name} SUBCOMMAND --help\` shows a subcommand's options.`);
  }
  lines.push('', 'options:', ...optionLines({ ...spec.options, help: HELP_OPTION }));
  return `${lines.join('\n')}\n`;
}

type NodeOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;
const nodeOptions = (o: Record<string, OptionSpec>): NodeOptions =>
  Object.fromEntries(Object.entries(o).map(([n, x]) => [n, { type: x.type, ...(x.short ? { short: x.short } : {}), ...(x.multiple ? { multiple: true } : {}) }]));

function rephrase(e: unknown, usage: string): UsageError {
  const err = e as Error & { code?: string };
  const named = /'(?:-\w, )?(--?[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${named ?? ''}`.trim(), usage);
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new UsageError(named && /argument missing/.test(err.message) ? `${named} needs a value` : err.message, usage);
  return new UsageError(err.message, usage);
}

/**
 * Parses argv (what follows the command name) against the command's declaration. Returns `{ help }` when
 * `--help`/`-h` appears anywhere before `--` (so `secrets set --help` is never a secret called "--help");
 * throws UsageError for unknown flags, missing values, unknown subcommands and wrong positional counts.
 */
export function parseCommand(spec: CommandSpec, argv: string[]): ParsedArgs | { help: string } {
  const end = argv.indexOf('--');
  const head = end < 0 ? argv : argv.slice(0, end);
  const subs = spec.subcommands ?? {};
  const all: Record<string, OptionSpec> = { ...spec.options, help: HELP_OPTION };
  for (const s of Object.values(subs)) Object.assign(all, s.options);
  // Which positional is the subcommand: a lenient pass that knows every option's type (so values are skipped).
  const loose = parseArgs({ args: argv, options: nodeOptions(all), strict: false, allowPositionals: true, tokens: true });
  const firstPos = loose.tokens.find((t) => t.kind === 'positional');
  const subName = spec.subcommands ? (firstPos?.kind === 'positional' ? firstPos.value : spec.defaultSubcommand) : undefined;
  if (head.includes('--help') || head.includes('-h') || loose.tokens.some((t) => t.kind === 'option' && t.name === 'help' && t.index < (end < 0 ? Infinity : end))) {
    return { help: usageOf(spec, subName && subName in subs ? subName : undefined) };
  }
  if (spec.subcommands && subName === undefined) throw new UsageError(`${spec.name} needs a subcommand (${Object.keys(subs).join(', ')})`, usageOf(spec));
  if (subName !== undefined && !(subName in subs)) throw new UsageError(`unknown subcommand "${subName}" for ${spec.name} (expected ${Object.keys(subs).join(', ')})`, usageOf(spec));
  const sub = subName !== undefined ? subs[subName] : undefined;
  const usage = usageOf(spec, subName);
  const rest = firstPos?.kind === 'positional' && spec.subcommands ? argv.filter((_a, i) => i !== firstPos.index) : argv;
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: nodeOptions({ ...spec.options, ...sub?.options }), strict: true, allowPositionals: true });
  } catch (e) {
    throw rephrase(e, usage);
  }
  const [min, max] = (sub ? sub.positionals : spec.positionals) ?? [0, 0];
  const label = subName ? `${spec.name} ${subName}` : spec.name;
  const args = sub?.args ?? spec.args;
  if (parsed.positionals.length < min) throw new UsageError(sub?.missing ?? `${label} needs ${args ?? `${min} argument(s)`}`, usage);
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}" for ${label}`, usage);
  return { sub: subName, values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}
