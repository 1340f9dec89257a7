import type { Io } from '../io.js';
import { parseCommand, usageOf, UsageError, type CommandSpec } from '../cli-args.js';
import { SECRETS_SPEC } from './cli-spec.js';
import { createSecretStore, NoKeyringError, SecretNameError, type SecretBackend } from './store.js';

/** What a CLI command may touch: its streams, environment and working directory. */

export interface SecretsCommandOptions {
  stateDir: string;
  service?: string;
  backend?: SecretBackend;
  /** Journals an admin act once it is done: the secret's name only, never its value or a digest of it. */
  audit?: (e: { action: 'secrets.set' | 'secrets.delete'; target: string; detail?: string }) => Promise<void>;
}

/** Reads a value from a terminal without echo, or the whole of piped stdin minus one trailing newline. */
async function readValue(io: Io, name: string): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY && stdin.setRawMode) {
    io.stderr.write(`Value for ${name} (input hidden): `);
    stdin.setRawMode(true);
    stdin.resume();
    try {
      return await new Promise<string>((resolve, reject) => {
        let value = '';
        const onData = (chunk: Buffer | string) => {
          for (const ch of chunk.toString('utf8')) {
            if (ch === '\r' || ch === '\n') return done(() => resolve(value));
            if (ch === '\u0003') return done(() => reject(new Error('cancelled')));
            if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
            else value += ch;
          }
        };
        const done = (f: () => void) => {
          stdin.off('data', onData);
          f();
        };
        stdin.on('data', onData);
      });
    } finally {
      stdin.setRawMode(false);
      stdin.pause();
      io.stderr.write('\n');
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** `tollgate secrets set NAME | list | delete NAME`; argv starts after "secrets". Returns the exit code. */
export async function secretsCommand(argv: string[], io: Io, opts: SecretsCommandOptions): Promise<number> {
  const fail = (message: string, code = 1) => {
    io.stderr.write(`tollgate secrets: ${message}\n`);
    return code;
  };
  let parsed;
  try {
    parsed = parseCommand(SECRETS_SPEC, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    // `set` refuses a value as an argument (it would land in shell history and the process list), and never echoes it
    if (argv[0] === 'set' && /^unexpected argument/.test(e.message)) return fail(`set takes only NAME: the value is read from stdin so it never lands in shell history or the process list\n${e.usage}`, 2);
    return fail(`${e.message}\n${e.usage}`, 2);
  }
  if ('help' in parsed) {
    io.stdout.write(parsed.help);
    return 0;
  }
  const { sub: verb, values, positionals: rest } = parsed;
  const store = createSecretStore({ stateDir: opts.stateDir, service: opts.service, backend: opts.backend });
  try {
    switch (verb) {
      case 'set': {
        const name = rest[0]!;
        const value = await readValue(io, name);
        if (value.length === 0) return fail(`no value on stdin for "${name}"`);
        const existed = (await store.list()).includes(name);
        await store.set(name, value);
        await opts.audit?.({ action: 'secrets.set', target: name, detail: existed ? 'replaced' : 'created' });
        const info = await store.describe();
        io.stderr.write(`Stored secret "${name}" in ${info.note}.\nReference it as {"secret": "${name}"}.\n`);
        return 0;
      }
      case 'list': {
        const json = !!values.json;
        const names = await store.list();
        if (json) io.stdout.write(JSON.stringify(names) + '\n');
        else if (names.length === 0) io.stderr.write('No secrets stored.\n');
        else io.stdout.write(names.join('\n') + '\n');
        return 0;
      }
      case 'delete': {
        const deleted = await store.delete(rest[0]!);
        if (!deleted) return fail(`no secret named "${rest[0]}"`);
        await opts.audit?.({ action: 'secrets.delete', target: rest[0]! });
        io.stderr.write(`Deleted secret "${rest[0]}".\n`);
        return 0;
      }
      default:
        return fail(`unknown subcommand "${String(verb)}"\n${usageOf(SECRETS_SPEC)}`, 2);
    }
  } catch (err) {
    if (err instanceof NoKeyringError || err instanceof SecretNameError) return fail(err.message);
    return fail((err as Error).message ?? String(err));
  }
}
