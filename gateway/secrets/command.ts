import type { Io } from '../io.js';
import { createSecretStore, NoKeyringError, SecretNameError, type SecretBackend } from './store.js';

/** What a CLI command may touch: its streams, environment and working directory. */

export interface SecretsCommandOptions {
  stateDir: string;
  service?: string;
  backend?: SecretBackend;
}

const USAGE = `usage: tollgate secrets set NAME      (value read from stdin, never from arguments)
       tollgate secrets list [--json]
       tollgate secrets delete NAME
`;

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
  const [verb, ...rest] = argv;
  const fail = (message: string, code = 1) => {
    io.stderr.write(`tollgate secrets: ${message}\n`);
    return code;
  };
  const store = createSecretStore({ stateDir: opts.stateDir, service: opts.service, backend: opts.backend });
  try {
    switch (verb) {
      case 'set': {
        if (rest.length === 0) return fail(`set needs a NAME\n${USAGE}`, 2);
        if (rest.length > 1) {
          return fail('set takes only NAME: the value is read from stdin so it never lands in shell history or the process list', 2);
        }
        const name = rest[0]!;
        const value = await readValue(io, name);
        if (value.length === 0) return fail(`no value on stdin for "${name}"`);
        await store.set(name, value);
        const info = await store.describe();
        io.stderr.write(`Stored secret "${name}" in ${info.note}.\nReference it as {"secret": "${name}"}.\n`);
        return 0;
      }
      case 'list': {
        const json = rest.includes('--json');
        const unknown = rest.filter((a) => a !== '--json');
        if (unknown.length) return fail(`list: unexpected ${unknown.join(' ')}\n${USAGE}`, 2);
        const names = await store.list();
        if (json) io.stdout.write(JSON.stringify(names) + '\n');
        else if (names.length === 0) io.stderr.write('No secrets stored.\n');
        else io.stdout.write(names.join('\n') + '\n');
        return 0;
      }
      case 'delete': {
        if (rest.length !== 1) return fail(`delete needs exactly one NAME\n${USAGE}`, 2);
        const deleted = await store.delete(rest[0]!);
        if (!deleted) return fail(`no secret named "${rest[0]}"`);
        io.stderr.write(`Deleted secret "${rest[0]}".\n`);
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
        io.stdout.write(USAGE);
        return verb === undefined ? 2 : 0;
      default:
        return fail(`unknown subcommand "${verb}"\n${USAGE}`, 2);
    }
  } catch (err) {
    if (err instanceof NoKeyringError || err instanceof SecretNameError) return fail(err.message);
    return fail((err as Error).message ?? String(err));
  }
}
