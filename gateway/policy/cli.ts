// `tollgate check` and `tollgate config`: explain decisions and show/validate the effective config.
import type { Io } from '../io.js';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { ConfigError, loadEffectiveConfig, type EffectiveConfigResult } from './layers.js';
import { evaluate } from './evaluate.js';
import { applyMode, type PolicyVerdict } from './verdict.js';
import type { Decision, EffectiveConfig } from './schema.js';


class UsageError extends Error {}

const CHECK_USAGE = 'usage: tollgate check [--config DIR] [--json] (--shell "SCRIPT" | --tool SERVER__TOOL --args JSON | --batch)';
const CONFIG_USAGE = 'usage: tollgate config show [--origin] [--config DIR] | tollgate config validate [--config DIR]';

function parseFlags(argv: string[], valued: string[], bools: string[]): { values: Record<string, string>; flags: Set<string>; rest: string[] } {
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (valued.includes(name)) {
      const v = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${name} expects a value`);
      values[name] = v;
    } else if (bools.includes(a)) flags.add(a);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else rest.push(a);
  }
  return { values, flags, rest };
}

async function load(io: Io, dir: string | undefined): Promise<EffectiveConfigResult> {
  return loadEffectiveConfig({ configDir: resolve(io.cwd, dir ?? '.'), env: io.env });
}

type Request = { shell: string } | { tool: string; args: Record<string, unknown> };

/** What servers.json says about a namespaced tool: its server, kind and per-tool decisions (the CLI cannot list live tools). */
export type ToolLookup = (namespaced: string) => { server: string; tool: string; kind: 'mcp' | 'shell'; toolDecisions?: Record<string, Decision> } | undefined;

function decide(req: Request, config: EffectiveConfig, lookup?: ToolLookup): PolicyVerdict {
  if ('shell' in req) {
    return applyMode(evaluate({ server: 'shell', tool: 'exec', args: { command: req.shell }, kind: 'shell' }, config), config.approvals.mode);
  }
  const sep = config.toolSeparator;
  const at = req.tool.indexOf(sep);
  const known = lookup?.(req.tool);
  if (known) {
    return applyMode(
      evaluate({ server: known.server, tool: known.tool, namespaced: req.tool, args: req.args, kind: known.kind, serverOverrides: { toolDecisions: known.toolDecisions } }, config),
      config.approvals.mode,
    );
  }
  if (at <= 0 || at + sep.length >= req.tool.length) throw new UsageError(`tool name "${req.tool}" must be namespaced as SERVER${sep}TOOL`);
  return applyMode(
    evaluate({ server: req.tool.slice(0, at), tool: req.tool.slice(at + sep.length), args: req.args, kind: 'mcp' }, config),
    config.approvals.mode,
  );
}

function parseRequest(line: unknown): Request {
  if (!line || typeof line !== 'object' || Array.isArray(line)) throw new UsageError('expected a JSON object with "shell" or "tool"');
  const o = line as Record<string, unknown>;
  if (typeof o.shell === 'string' && o.tool === undefined) return { shell: o.shell };
  if (typeof o.tool === 'string' && o.shell === undefined) {
    if (o.args !== undefined && (typeof o.args !== 'object' || o.args === null || Array.isArray(o.args))) throw new UsageError('"args" must be a JSON object');
    return { tool: o.tool, args: (o.args as Record<string, unknown>) ?? {} };
  }
  throw new UsageError('expected exactly one of "shell" (string) or "tool" (string, with optional "args" object)');
}

const shape = (v: PolicyVerdict) => ({ decision: v.decision, reasons: v.reasons, matched: v.matched });

function human(v: PolicyVerdict): string {
  const lines = [`decision: ${v.decision}`, ...v.reasons.map((r) => `  - ${r}`)];
  if (v.matched.length) lines.push(`matched: ${v.matched.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function fail(io: Io, e: unknown, usage?: string): number {
  if (e instanceof ConfigError) {
    io.stderr.write(`config error:\n${e.message}\n`);
    return 2;
  }
  if (e instanceof UsageError) {
    io.stderr.write(`tollgate: ${e.message}\n${usage ? `${usage}\n` : ''}`);
    return 2;
  }
  io.stderr.write(`tollgate: ${(e as Error).message}\n`);
  return 1;
}

/** `tollgate check`: exit 0 after printing a decision (any decision), 1 when a --batch line was bad, 2 on usage/config errors. */
export async function checkCommand(argv: string[], io: Io, opts: { lookup?: (configDir: string, separator: string) => Promise<ToolLookup | undefined> } = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, ['--config', '--shell', '--tool', '--args'], ['--json', '--batch', '--help', '-h']);
    if (parsed.flags.has('--help') || parsed.flags.has('-h')) {
      io.stdout.write(`${CHECK_USAGE}\n`);
      return 0;
    }
    const modes = [parsed.values['--shell'] !== undefined, parsed.values['--tool'] !== undefined, parsed.flags.has('--batch')].filter(Boolean).length;
    if (modes !== 1) throw new UsageError('expected exactly one of --shell, --tool or --batch');
    if (parsed.rest.length) throw new UsageError(`unexpected argument "${parsed.rest[0]}"`);
    if (parsed.values['--args'] !== undefined && parsed.values['--tool'] === undefined) throw new UsageError('--args needs --tool');
  } catch (e) {
    return fail(io, e, CHECK_USAGE);
  }
  let loaded: EffectiveConfigResult;
  try {
    loaded = await load(io, parsed.values['--config']);
  } catch (e) {
    return fail(io, e);
  }
  const lookup = await opts.lookup?.(loaded.config.configDir, loaded.config.toolSeparator).catch(() => undefined);
  const json = parsed.flags.has('--json');
  if (!parsed.flags.has('--batch')) {
    try {
      let req: Request;
      if (parsed.values['--shell'] !== undefined) req = { shell: parsed.values['--shell'] };
      else {
        let args: unknown = {};
        if (parsed.values['--args'] !== undefined) {
          try {
            args = JSON.parse(parsed.values['--args']);
          } catch (e) {
            throw new UsageError(`--args is not valid JSON: ${(e as Error).message}`);
          }
        }
        req = parseRequest({ tool: parsed.values['--tool'], args });
      }
      const v = decide(req, loaded.config, lookup);
      io.stdout.write(json ? `${JSON.stringify(shape(v))}\n` : human(v));
      return 0;
    } catch (e) {
      return fail(io, e, CHECK_USAGE);
    }
  }
  // --batch: JSONL in, one object per line out, in order; bad lines produce an error object and processing continues
  let bad = 0;
  let n = 0;
  let buffer = '';
  const flush = async () => {
    if (!buffer) return;
    const chunk = buffer;
    buffer = '';
    const { stdout } = io;
    if (!stdout.write(chunk) && stdout.once) await new Promise<void>((r) => stdout.once!('drain', () => r()));
  };
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    n++;
    if (line.trim() === '') continue;
    let out: unknown;
    try {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new UsageError(`invalid JSON: ${(e as Error).message}`);
      }
      out = shape(decide(parseRequest(obj), loaded.config, lookup));
    } catch (e) {
      bad++;
      out = { line: n, error: e instanceof UsageError ? e.message : `internal error: ${(e as Error).message}` };
    }
    buffer += `${JSON.stringify(out)}\n`;
    if (buffer.length > 64 * 1024) await flush();
  }
  await flush();
  return bad ? 1 : 0;
}

function redactShown(config: EffectiveConfig): Record<string, unknown> {
  const { requirements, configDir: _c, ...rest } = config;
  const shown = structuredClone(rest) as Record<string, unknown> & { audit: EffectiveConfig['audit'] };
  // header values are usually bearer tokens; show that they are set, never what they are
  shown.audit.otlp.headers = Object.fromEntries(Object.keys(shown.audit.otlp.headers).map((k) => [k, '[redacted]']));
  return { ...shown, requirements: requirements ? requirements.source : null };
}

/** `tollgate config show [--origin] | validate`: 0 ok, 1 invalid or violations, 2 usage. */
export async function configCommand(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, ['--config'], ['--origin', '--help', '-h']);
    if (parsed.flags.has('--help') || parsed.flags.has('-h')) {
      io.stdout.write(`${CONFIG_USAGE}\n`);
      return 0;
    }
    const sub = parsed.rest[0];
    if (sub !== 'show' && sub !== 'validate') throw new UsageError(sub ? `unknown subcommand "${sub}"` : 'expected a subcommand');
    if (parsed.rest.length > 1) throw new UsageError(`unexpected argument "${parsed.rest[1]}"`);
    if (sub === 'validate' && parsed.flags.has('--origin')) throw new UsageError('--origin only applies to "config show"');
  } catch (e) {
    return fail(io, e, CONFIG_USAGE);
  }
  let loaded: EffectiveConfigResult;
  try {
    loaded = await load(io, parsed.values['--config']);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr.write(`invalid configuration:\n${e.message}\n`);
      return 1;
    }
    return fail(io, e);
  }
  for (const v of loaded.violations) io.stderr.write(`violation: ${v}\n`);
  if (parsed.rest[0] === 'validate') {
    io.stdout.write(`${loaded.violations.length ? 'valid with violations' : 'valid'}: policy version ${loaded.policyVersion}\n`);
    return loaded.violations.length ? 1 : 0;
  }
  const shown = redactShown(loaded.config);
  if (!parsed.flags.has('--origin')) {
    io.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return 0;
  }
  const withOrigin: Record<string, { value: unknown; origin: string }> = {};
  for (const [path, origin] of Object.entries(loaded.origins)) {
    const value = path.split('.').reduce<unknown>((c, p) => (c && typeof c === 'object' ? (c as Record<string, unknown>)[p] : undefined), shown);
    withOrigin[path] = { value, origin };
  }
  io.stdout.write(`${JSON.stringify(withOrigin, null, 2)}\n`);
  return 0;
}
