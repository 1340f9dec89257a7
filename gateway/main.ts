// CLI entry: `tollgate serve | check | audit | approvals | tools | secrets | tokens | config`.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { VERSION } from './version.js';
import { UsageError } from './usage.js';
import type { Io } from './io.js';
import type { resolveDirs as ResolveDirs } from './dirs.js';

// Every command loads only the modules it uses, when it runs: `tollgate --version` or `approvals list` must not pay
// for the SDK, tree-sitter, OpenTelemetry, the console or the openai client (see docs/performance.md, start-up).
const resolveDirs: typeof ResolveDirs = async (...a) => (await import('./dirs.js')).resolveDirs(...a);
const serve = async (argv: string[], io: Io) => (await import('./serve.js')).serve(argv, io);

const HELP = `tollgate ${VERSION} — an MCP gateway that enforces approvals

Usage:
  tollgate serve [--config DIR] [--stdio | --http HOST:PORT]
  tollgate check [--config DIR] [--json] (--shell "SCRIPT" | --tool NAME --args JSON | --batch)
  tollgate audit verify | query | stats | explain CALL_ID | export | triage   [--config DIR]
  tollgate approvals list | approve ID [--session] | deny ID [--reason TEXT]  [--config DIR]
  tollgate tools list | show SERVER__TOOL | approve SERVER__TOOL [--hash H]  [--config DIR]
  tollgate secrets set NAME | list | delete NAME
  tollgate tokens create NAME | list | revoke ID                              [--config DIR]
  tollgate config show [--origin] | validate                                 [--config DIR]

The config directory (default: the current directory) holds servers.json and tollgate.json.
Docs: README.md and docs/ in the repository.
`;

async function tools(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string' }, json: { type: 'boolean' }, hash: { type: 'string' } }, allowPositionals: true, strict: true });
  const { stateDir } = await resolveDirs(values.config, io);
  const { PinStore } = await import('./upstreams/pins.js');
  const pins = new PinStore(stateDir);
  const [sub, name] = positionals;
  if (sub === 'list' || sub === undefined) {
    const list = pins.list();
    if (values.json) {
      io.stdout.write(`${JSON.stringify(list.map((p) => ({ tool: p.tool, status: p.pending ? 'changed' : 'pinned', hash: p.hash, pendingHash: p.pending?.hash, approvedAt: p.approvedAt, approvedBy: p.approvedBy })))}\n`);
      return 0;
    }
    if (!list.length) {
      io.stdout.write('No tools pinned yet: tools are pinned when the gateway first sees them.\n');
      return 0;
    }
    const rows = list.map((p) => [p.tool, p.pending ? 'CHANGED — review with `tollgate tools show`, then approve' : 'pinned', p.hash.slice(0, 12), `${p.approvedBy} ${p.approvedAt}`]);
    const head = ['TOOL', 'STATUS', 'HASH', 'APPROVED'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) io.stdout.write(`${r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()}\n`);
    return 0;
  }
  if (sub === 'show') {
    if (!name) throw new UsageError('tools show needs a tool name, e.g. `tollgate tools show fixture__weather`');
    const rec = pins.read(name);
    if (!rec) throw new Error(`no pin for "${name}": the gateway has not seen this tool yet (check the name with \`tollgate tools list\`)`);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rec)}\n`);
      return 0;
    }
    io.stdout.write(`${rec.tool}: approved by ${rec.approvedBy} at ${rec.approvedAt} (${rec.hash.slice(0, 12)})\n${JSON.stringify(rec.definition, null, 2)}\n`);
    if (rec.pending) {
      io.stdout.write(`\nCHANGED since: the definition seen at ${rec.pending.seenAt} (hash ${rec.pending.hash}) — calls are refused until it is approved:\n`);
      io.stdout.write(`${JSON.stringify(rec.pending.definition, null, 2)}\n\nto approve exactly this definition: tollgate tools approve ${rec.tool} --hash ${rec.pending.hash}\n`);
    }
    return 0;
  }
  if (sub === 'approve') {
    if (!name) throw new UsageError('tools approve needs a tool name, e.g. `tollgate tools approve fixture__weather`');
    // With --hash (printed by `tools show`), only the definition that was reviewed is approved.
    const rec = pins.approve(name, `local:${userInfo().username}`, values.hash);
    io.stdout.write(`approved the new definition of ${name} (${rec.hash.slice(0, 12)}); it is callable again\n`);
    return 0;
  }
  throw new UsageError(`unknown subcommand "tools ${sub}" (expected list, show or approve)`);
}

type Command = (argv: string[], io: Io) => Promise<number>;

/** Splits `--config DIR` off a subcommand's arguments, for commands that only need the directories. */
function takeConfig(argv: string[]): { config?: string; rest: string[] } {
  const rest: string[] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') {
      config = argv[++i];
      if (config === undefined) throw new UsageError('--config needs a directory');
    } else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else rest.push(a);
  }
  return { config, rest };
}

const withDirs =
  (run: (rest: string[], io: Io, dirs: Awaited<ReturnType<typeof resolveDirs>>) => Promise<number>): Command =>
  async (argv, io) => {
    const { config, rest } = takeConfig(argv);
    return run(rest, io, await resolveDirs(config, io));
  };

const commands: Record<string, Command> = {
  serve,
  tools,
  check: async (argv, io) => {
    const [{ checkCommand }, { loadRegistry }] = await Promise.all([import('./policy/index.js'), import('./upstreams/registry.js')]);
    return checkCommand(argv, io, {
      // servers.json tells `check` which tools are shells and what per-tool decisions apply, like serve does.
      lookup: async (configDir, separator) => {
        const registry = await loadRegistry(configDir, separator);
        const byPrefix = new Map(registry.servers.map((s) => [s.prefix, s]));
        return (name) => {
          const at = name.indexOf(separator);
          const spec = at > 0 ? byPrefix.get(name.slice(0, at)) : byPrefix.get('');
          if (!spec) return undefined;
          const tool = at > 0 && spec.prefix !== '' ? name.slice(at + separator.length) : name;
          return { server: spec.name, tool, kind: spec.kind === 'shell' ? 'shell' : 'mcp', toolDecisions: spec.toolDecisions };
        };
      },
    });
  },
  config: async (argv, io) => (await import('./policy/index.js')).configCommand(argv, io),
  audit: withDirs(async (rest, io, { dataDir, effective }) => {
    const r = effective.config.reviewer;
    let apiKey: string | undefined;
    if (r.apiKey && 'env' in r.apiKey) apiKey = io.env[r.apiKey.env];
    const reviewer = r.baseURL && r.model ? { baseURL: r.baseURL, model: r.model, apiKey, timeoutMs: r.timeoutSeconds * 1000 } : undefined;
    return (await import('./audit/cli.js')).auditCommand(rest, io, { dataDir, reviewer });
  }),
  approvals: withDirs(async (rest, io, { stateDir }) => (await import('./review/approvals-cli.js')).approvalsCommand(rest, io, { stateDir })),
  secrets: withDirs(async (rest, io, { stateDir }) => (await import('./secrets/index.js')).secretsCommand(rest, io, { stateDir })),
  tokens: withDirs(async (rest, io, { stateDir }) => (await import('./server/auth/command.js')).tokensCommand(rest, io, { stateDir })),
};

export async function main(argv: string[], io: Io): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    io.stdout.write(HELP);
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = commands[cmd];
  if (!run) {
    io.stderr.write(`tollgate: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (e) {
    const err = e as Error & { code?: string };
    // Bad input gets one clear sentence, never a stack trace (TOLLGATE_DEBUG=1 shows it).
    if (io.env.TOLLGATE_DEBUG) io.stderr.write(`${err.stack ?? err.message}\n`);
    const msg = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? `${err.message} (see \`tollgate help\`)` : err.message;
    io.stderr.write(`tollgate ${cmd}: ${msg}\n`);
    return 2;
  }
}

// A reader that stops early (`tollgate audit export | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const io: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: resolve('.') };
const code = await main(process.argv.slice(2), io);
process.exitCode = code;
// serve keeps watchers and upstream processes alive: once it has returned, leave.
if (process.argv[2] === 'serve') process.stderr.write('', () => process.exit(code));
