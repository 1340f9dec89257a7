import type { Io } from '../../io.js';
import { parseCommand, usageOf, UsageError, type CommandSpec } from '../../cli-args.js';
import { TOKENS_SPEC } from './cli-spec.js';
import { createTokenStore, TokenInputError, type TokenInfo, type TokenStore } from './tokens.js';

/** What a CLI command may touch: its streams, environment and working directory. */

export interface TokensCommandOptions {
  stateDir: string;
  /** The store to use (storage kind postgres); default `<stateDir>/tokens.json`. */
  store?: TokenStore;
  /** Journals an admin act once it is done (tokens change who agents are). */
  audit?: (e: { action: 'tokens.create' | 'tokens.revoke'; target: string; detail?: string }) => Promise<void>;
}

function row(t: TokenInfo): string[] {
  return [t.id, t.identity, t.groups.join(',') || '-', t.created, t.lastUsed ?? '-', t.revoked ? `revoked ${t.revoked}` : 'active'];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `tollgate tokens create | list | revoke`; argv starts after "tokens". Returns the exit code. */
export async function tokensCommand(argv: string[], io: Io, opts: TokensCommandOptions): Promise<number> {
  const fail = (message: string, code = 1) => {
    io.stderr.write(`tollgate tokens: ${message}\n`);
    return code;
  };
  let parsed;
  try {
    parsed = parseCommand(TOKENS_SPEC, argv);
  } catch (e) {
    if (e instanceof UsageError) return fail(`${e.message}\n${e.usage}`, 2);
    throw e;
  }
  if ('help' in parsed) {
    io.stdout.write(parsed.help);
    return 0;
  }
  const { sub: verb, values, positionals: rest } = parsed;
  const store = opts.store ?? createTokenStore({ stateDir: opts.stateDir });
  try {
    switch (verb) {
      case 'create': {
        const groups = (values.group as string[] | undefined) ?? [];
        const { id, token, info } = await store.create(rest[0]!, { groups });
        await opts.audit?.({ action: 'tokens.create', target: id, detail: `identity ${info.identity}${groups.length ? `, groups ${groups.join(', ')}` : ''}` });
        // The token alone on stdout, so `TOKEN=$(tollgate tokens create ci)` works; the rest goes to stderr.
        io.stdout.write(token + '\n');
        io.stderr.write(
          `Created ${id} for ${info.identity}${groups.length ? ` (groups: ${groups.join(', ')})` : ''}.\n` +
            'This is the only time the token is shown; Tollgate keeps only its hash. Send it as "Authorization: Bearer <token>".\n',
        );
        return 0;
      }
      case 'list': {
        const json = !!values.json;
        const tokens = await store.list();
        if (json) io.stdout.write(JSON.stringify(tokens) + '\n');
        else if (tokens.length === 0) io.stderr.write('No tokens.\n');
        else io.stdout.write(table([['ID', 'NAME', 'GROUPS', 'CREATED', 'LAST USED', 'STATUS'], ...tokens.map(row)]));
        return 0;
      }
      case 'revoke': {
        const revoked = await store.revoke(rest[0]!);
        if (revoked.length === 0) return fail(`no active token with id or name "${rest[0]}"`);
        for (const t of revoked) await opts.audit?.({ action: 'tokens.revoke', target: t.id, detail: `identity ${t.identity}` });
        io.stderr.write(`Revoked ${revoked.map((t) => `${t.id} (${t.identity})`).join(', ')}.\n`);
        return 0;
      }
      default:
        return fail(`unknown subcommand "${String(verb)}"\n${usageOf(TOKENS_SPEC)}`, 2);
    }
  } catch (err) {
    if (err instanceof TokenInputError) return fail(err.message, 2);
    return fail((err as Error).message ?? String(err));
  }
}
