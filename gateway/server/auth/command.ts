import type { Io } from '../../io.js';
import { createTokenStore, TokenInputError, type TokenInfo } from './tokens.js';

/** What a CLI command may touch: its streams, environment and working directory. */

export interface TokensCommandOptions {
  stateDir: string;
}

const USAGE = `usage: tollgate tokens create NAME [--group GROUP]...
       tollgate tokens list [--json]
       tollgate tokens revoke ID|NAME
`;

function row(t: TokenInfo): string[] {
  return [t.id, t.identity, t.groups.join(',') || '-', t.created, t.lastUsed ?? '-', t.revoked ? `revoked ${t.revoked}` : 'active'];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `tollgate tokens create | list | revoke`; argv starts after "tokens". Returns the exit code. */
export async function tokensCommand(argv: string[], io: Io, opts: TokensCommandOptions): Promise<number> {
  const [verb, ...rest] = argv;
  const fail = (message: string, code = 1) => {
    io.stderr.write(`tollgate tokens: ${message}\n`);
    return code;
  };
  const store = createTokenStore({ stateDir: opts.stateDir });
  try {
    switch (verb) {
      case 'create': {
        const groups: string[] = [];
        const names: string[] = [];
        for (let i = 0; i < rest.length; i++) {
          const arg = rest[i]!;
          if (arg === '--group' || arg === '-g') {
            const g = rest[++i];
            if (g === undefined) return fail(`--group needs a value\n${USAGE}`, 2);
            groups.push(g);
          } else if (arg.startsWith('--group=')) groups.push(arg.slice('--group='.length));
          else if (arg.startsWith('-')) return fail(`create: unknown option ${arg}\n${USAGE}`, 2);
          else names.push(arg);
        }
        if (names.length !== 1) return fail(`create needs exactly one NAME\n${USAGE}`, 2);
        const { id, token, info } = await store.create(names[0]!, { groups });
        // The token alone on stdout, so `TOKEN=$(tollgate tokens create ci)` works; the rest goes to stderr.
        io.stdout.write(token + '\n');
        io.stderr.write(
          `Created ${id} for ${info.identity}${groups.length ? ` (groups: ${groups.join(', ')})` : ''}.\n` +
            'This is the only time the token is shown; Tollgate keeps only its hash. Send it as "Authorization: Bearer <token>".\n',
        );
        return 0;
      }
      case 'list': {
        const json = rest.includes('--json');
        const unknown = rest.filter((a) => a !== '--json');
        if (unknown.length) return fail(`list: unexpected ${unknown.join(' ')}\n${USAGE}`, 2);
        const tokens = await store.list();
        if (json) io.stdout.write(JSON.stringify(tokens) + '\n');
        else if (tokens.length === 0) io.stderr.write('No tokens.\n');
        else io.stdout.write(table([['ID', 'NAME', 'GROUPS', 'CREATED', 'LAST USED', 'STATUS'], ...tokens.map(row)]));
        return 0;
      }
      case 'revoke': {
        if (rest.length !== 1) return fail(`revoke needs exactly one ID or NAME\n${USAGE}`, 2);
        const revoked = await store.revoke(rest[0]!);
        if (revoked.length === 0) return fail(`no active token with id or name "${rest[0]}"`);
        io.stderr.write(`Revoked ${revoked.map((t) => `${t.id} (${t.identity})`).join(', ')}.\n`);
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
    if (err instanceof TokenInputError) return fail(err.message, 2);
    return fail((err as Error).message ?? String(err));
  }
}
