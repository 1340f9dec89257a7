// Writing an offered rule to tollgate.json ("approve and add a rule"), through the same validation `serve` applies.
// Light on purpose: the console and `tollgate approvals` load it without the shell analyser.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { withFileLock } from '../state/index.js';
import { join, resolve } from 'node:path';
import { applyEdits, modify, parseTree, findNodeAtLocation } from 'jsonc-parser';
import { ConfigError, loadEffectiveConfig } from './layers.js';
import type { Rule } from './schema.js';

/** Keys a proposal Tollgate makes can have; anything else in a stored proposal means it was not made by proposeRule. */
const PROPOSAL_KEYS = new Set(['id', 'tool', 'shell', 'decision', 'identities', 'match', 'sandbox', 'description']);

/**
 * Whether a stored proposal is one Tollgate would make for this item: an allow rule for exactly its tool or command
 * and exactly its identity, nothing more. Checked before any channel writes it (the queue item is data on disk).
 */
export function proposalFits(rule: Rule, item: { tool: string; identity?: string; arguments: Record<string, unknown> }): string | undefined {
  if (rule.decision !== 'allow') return 'the proposed rule does not allow';
  const extra = Object.keys(rule).filter((k) => !PROPOSAL_KEYS.has(k));
  if (extra.length) return `the proposed rule has keys Tollgate does not propose (${extra.join(', ')})`;
  if (item.identity ? rule.identities?.length !== 1 || rule.identities[0] !== item.identity : rule.identities !== undefined) return 'the proposed rule does not name exactly the identity of this call';
  if (rule.sandbox !== undefined && rule.sandbox !== 'workspace-write') return 'the proposed rule names an unknown sandbox';
  if (rule.shell) {
    const cmd = item.arguments.command;
    const words = rule.shell.map((t) => (Array.isArray(t) ? null : t));
    if (typeof cmd !== 'string' || words.some((w) => w === null || w === '*')) return 'the proposed shell rule is not a plain prefix';
    const given = cmd.trim().split(/\s+/);
    if (!words.every((w, i) => given[i] === w)) return 'the proposed shell rule does not name this command';
    return undefined;
  }
  if (rule.tool !== item.tool) return 'the proposed rule does not name exactly this tool';
  return undefined;
}

export interface AddRuleOptions {
  configDir: string;
  rule: Rule;
  env?: NodeJS.ProcessEnv;
}

export interface AddRuleResult {
  file: string;
  ruleId: string;
  /** sha256 of tollgate.json before (absent: there was no file) and after. */
  before?: string;
  after: string;
}

const digest = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/**
 * Appends a rule to tollgate.json's `rules` (comments and layout kept), refusing the edit unless the whole config
 * still loads exactly as `serve` would load it (schema, requirements, rule examples). Written atomically under a
 * lock file; an edit made by someone else between our read and our write makes us start over (never overwritten).
 */
export async function addRule(opts: AddRuleOptions): Promise<AddRuleResult> {
  const configDir = resolve(opts.configDir);
  const file = join(configDir, 'tollgate.json');
  return withFileLock(file, async () => {
    const before = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw new Error(`${file}: cannot be read (${e.code ?? e.message})`);
    });
    const text = withRule(before, opts.rule, file);
    try {
      await loadEffectiveConfig({ configDir, env: opts.env, tollgateJsonText: text });
    } catch (e) {
      const detail = e instanceof ConfigError ? e.message : (e as Error).message;
      throw new Error(`the rule was not added: tollgate.json with it would not load (${detail})`);
    }
    const mode = before === undefined ? 0o644 : (await stat(file)).mode & 0o777;
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, text, { mode, flush: true });
    const now = await readFile(file, 'utf8').catch(() => undefined);
    if (now !== before) {
      await unlink(tmp).catch(() => undefined);
      throw new Error(`${file} changed while the rule was being added; nothing was written — decide again`);
    }
    await rename(tmp, file);
    return { file, ruleId: opts.rule.id ?? '(no id)', ...(before !== undefined ? { before: digest(before) } : {}), after: digest(text) };
  });
}

/** tollgate.json's text with the rule appended to `rules` (created when missing). */
function withRule(before: string | undefined, rule: Rule, file: string): string {
  const fmt = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } };
  if (before === undefined || before.trim() === '') return `${JSON.stringify({ rules: [rule] }, null, 2)}\n`;
  const tree = parseTree(before);
  if (!tree || tree.type !== 'object') throw new Error(`${file}: not a JSON object; the rule was not added`);
  const rules = findNodeAtLocation(tree, ['rules']);
  if (rules && rules.type !== 'array') throw new Error(`${file}: "rules" is not a list; the rule was not added`);
  const edits = rules ? modify(before, ['rules', rules.children?.length ?? 0], rule, { ...fmt, isArrayInsertion: true }) : modify(before, ['rules'], [rule], fmt);
  return applyEdits(before, edits);
}

/** The admin_action fields of a rule added or refused; the caller's journal adds who (actor) and how (channel). */
export type RuleActRecord = { action: 'policy.rule_added' | 'policy.rule_refused'; target: string; before?: string; after?: string; detail: string; callId?: string; sessionId?: string; tool?: string };

/**
 * "Approve and add a rule" from any channel: addRule, then `policy.rule_added` journaled (or `policy.rule_refused`
 * with the reason, and the error rethrown). `via` says where the person chose it, for the journal's detail.
 */
export async function addRuleJournaled(opts: AddRuleOptions & {
  journal: (e: RuleActRecord) => Promise<void>;
  by: { via: string; approvalId?: string; callId?: string; sessionId?: string; tool?: string };
}): Promise<AddRuleResult> {
  const { by } = opts;
  const where = { ...(by.callId ? { callId: by.callId } : {}), ...(by.sessionId ? { sessionId: by.sessionId } : {}), ...(by.tool ? { tool: by.tool } : {}) };
  let r: AddRuleResult;
  try {
    r = await addRule(opts);
  } catch (e) {
    await opts.journal({ action: 'policy.rule_refused', target: join(resolve(opts.configDir), 'tollgate.json'), detail: (e as Error).message.slice(0, 500), ...where }).catch(() => undefined);
    throw e;
  }
  await opts.journal({
    action: 'policy.rule_added', target: `${r.file} rule ${r.ruleId}`, ...(r.before ? { before: r.before } : {}), after: r.after, ...where,
    detail: `approved ${by.approvalId ? `approval ${by.approvalId}` : 'a call'} via ${by.via} and added ${JSON.stringify(opts.rule)}`,
  });
  return r;
}
