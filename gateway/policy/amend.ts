// "Approve and add a rule": the rule Tollgate offers beside approving a call a person is asked about (written by
// amend-file.ts).
import { randomBytes } from 'node:crypto';
import type { PolicyConfig, PolicyCall } from './evaluate.js';
import { evaluate } from './evaluate.js';
import type { Rule } from './schema.js';
import { analyzeScript } from './shell.js';
import type { Session } from './rules.js';
import { redactText } from '../review/redact.js';

/** A rule offered beside "approve": the rule itself (as it would be written) and one line a person reads. */
export type RuleProposal = { rule: Rule; text: string };

/** Programs whose next word is another program, a script or code: no prefix of them says what will run. */
const RUNS_WHATEVER_FOLLOWS = new Set([
  'bash', 'sh', 'zsh', 'dash', 'ksh', 'fish', 'csh', 'tcsh', 'busybox', 'env', 'sudo', 'doas', 'su', 'exec', 'eval', 'command', 'builtin', 'xargs', 'nohup',
  'setsid', 'nice', 'ionice', 'timeout', 'time', 'stdbuf', 'chroot', 'unshare', 'nsenter', 'strace', 'ltrace', 'gdb', 'watch', 'parallel', 'script', 'source', '.',
  'python', 'python2', 'python3', 'node', 'nodejs', 'deno', 'bun', 'ruby', 'perl', 'php', 'lua', 'tclsh', 'Rscript', 'java', 'osascript', 'pwsh',
  'npx', 'pnpx', 'bunx', 'uvx', 'pipx',
]);
/** Programs whose first word alone covers too much (subcommands that write, fetch, or run code): two words at least. */
const NEEDS_SUBCOMMAND = new Set([
  'dotnet', 'go', 'cargo', 'make', 'cmake', 'ninja', 'gradle', 'mvn', 'docker', 'podman', 'kubectl', 'ssh', 'awk', 'gawk', 'mawk', 'nawk', 'sed', 'find',
  'git', 'npm', 'pnpm', 'yarn', 'pip', 'pip3', 'uv', 'poetry', 'curl', 'wget', 'tar', 'rsync', 'scp', 'rm', 'mv', 'cp', 'dd', 'chmod', 'chown', 'ln',
]);
/** A word that names a subcommand rather than data (no paths, options, URLs or values). */
const SUBCOMMAND = /^[a-z][a-z0-9:_-]{0,39}$/;

/**
 * The narrowest useful rule that would have let this call through without a person, or a reason there is none.
 * Pure (given an initialised policy). MCP tools: allow this tool for this identity. Shell: allow the command's
 * program and subcommand words (at most three), with the writable sandbox a person's approval gives. The proposal
 * is offered only when the config with it added really decides this call `allow` — a rule that another rule,
 * a requirement or the network policy would override is not offered.
 */
export function proposeRule(call: PolicyCall, config: PolicyConfig, session: Session): RuleProposal | { none: string } {
  const namespaced = call.namespaced ?? `${call.server}${config.toolSeparator}${call.tool}`;
  if (session.identity && /[*?[\]{}()!+@\\]/.test(session.identity)) return { none: `the identity "${session.identity}" has glob characters, so a rule cannot name it exactly` };
  const scope = session.identity ? { identities: [session.identity] } : {};
  const suffix = randomBytes(3).toString('hex');
  let rule: Rule;
  let text: string;
  if (call.kind === 'shell') {
    const script = call.args.command;
    if (typeof script !== 'string') return { none: 'the call has no shell command' };
    const argvs: (string | null)[][] = [];
    analyzeScript(script, (argv) => (argvs.push(argv), null), config.sandbox.protectedPaths);
    if (argvs.length !== 1) return { none: argvs.length === 0 ? 'no command was found in the script' : 'a rule is offered for a single command, and this script runs several' };
    const argv = argvs[0]!;
    const program = argv[0];
    if (!program || !/^[A-Za-z0-9._+-]+$/.test(program)) return { none: 'the program name is not a plain word' };
    if (RUNS_WHATEVER_FOLLOWS.has(program.replace(/[0-9.]+$/, '')) || RUNS_WHATEVER_FOLLOWS.has(program)) return { none: `"${program}" runs whatever follows it, so no rule can say what it will run` };
    const prefix = [program];
    for (const w of argv.slice(1)) {
      if (prefix.length >= 3 || w === null || !SUBCOMMAND.test(w)) break;
      prefix.push(w);
    }
    if (prefix.length === 1 && NEEDS_SUBCOMMAND.has(program)) return { none: `a rule for "${program}" with any arguments would allow far more than this call` };
    const words = prefix.join(' ');
    if (redactText(words) !== words) return { none: 'the command words look like a secret' };
    rule = { id: `approved-${prefix.join('-').replace(/[^A-Za-z0-9-]/g, '').slice(0, 40)}-${suffix}`, shell: prefix, decision: 'allow', sandbox: 'workspace-write', ...scope, match: [words] } as Rule;
    text = `always allow shell commands starting with "${words}"${session.identity ? ` for ${session.identity}` : ''}, in the writable sandbox`;
  } else {
    rule = { id: `approved-${namespaced.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40)}-${suffix}`, tool: namespaced, decision: 'allow', ...scope, match: [session.identity ? { tool: namespaced, identity: session.identity } : namespaced] } as Rule;
    text = `always allow ${namespaced} with any arguments${session.identity ? ` for ${session.identity}` : ''}`;
  }
  const amended = { ...config, rules: [...config.rules, rule] } as PolicyConfig;
  const after = evaluate(call, amended, session);
  if (after.decision !== 'allow') return { none: `even with such a rule the call would be "${after.decision}" (${after.reasons.join('; ')})` };
  return { rule, text };
}
