// Shared set-up for the review/escalation end-to-end tests: explicit configs, a form-answering agent, the journal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElicitRequestSchema, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { configDir, runCli, stdioAgent, upstreams, type StdioAgent } from '../../helpers/gateway.js';
import type { RecordedRequest } from '../../fixtures/reviewer-server.js';

export const DELETE = 'fixture__delete_file';
export const ECHO = 'fixture__echo';

/** Explicit rules: echo is allowed by a rule, delete_file goes to review (as the default policy would do too). */
export const RULES = [
  { tool: ECHO, decision: 'allow', justification: 'read-only echo' },
  { tool: DELETE, decision: 'review', justification: 'deleting files needs review' },
];

export interface ReviewConfig {
  mode: 'auto-review' | 'human' | 'never-ask';
  /** The reviewer fixture's baseURL (ends in /v1); omitted → no reviewer. */
  reviewerURL?: string;
  approvalTimeoutSeconds?: number;
  reviewerTimeoutSeconds?: number;
  cacheTtlSeconds?: number;
  /** Reviewer denials in a row before auto-review stops for the session (gateway default 3). */
  maxConsecutiveDenials?: number;
  /** approvals.channels (default here: the inline channels, elicitation → url → queue). */
  channels?: string[];
  /** approvals.minHumanResponseMs (default here 0: the scripted "person" answers at once). */
  minHumanResponseMs?: number;
  clientTimeoutSeconds?: number;
}

/** A config dir with the fixture upstream and a tollgate.json written out in full. */
export function reviewConfigDir(c: ReviewConfig): string {
  const dir = configDir({ fixture: upstreams.fixture() });
  const tollgate = {
    approvals: {
      mode: c.mode,
      timeoutSeconds: c.approvalTimeoutSeconds ?? 60,
      channels: c.channels ?? ['elicitation', 'url', 'queue'],
      minHumanResponseMs: c.minHumanResponseMs ?? 0,
      ...(c.clientTimeoutSeconds !== undefined ? { clientTimeoutSeconds: c.clientTimeoutSeconds } : {}),
    },
    ...(c.reviewerURL
      ? { reviewer: { baseURL: c.reviewerURL, model: 'fixture-reviewer', timeoutSeconds: c.reviewerTimeoutSeconds ?? 5, ...(c.cacheTtlSeconds !== undefined ? { cacheTtlSeconds: c.cacheTtlSeconds } : {}),
            ...(c.maxConsecutiveDenials !== undefined ? { circuitBreaker: { maxConsecutiveDenials: c.maxConsecutiveDenials } } : {}) } }
      : {}),
    rules: RULES,
    audit: { otlp: { enabled: false } },
  };
  writeFileSync(join(dir, 'tollgate.json'), JSON.stringify(tollgate, null, 2));
  return dir;
}

export type Answer = (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;

export interface FormAgent extends StdioAgent {
  /** Every elicitation message the human was shown, in order. */
  asked: string[];
  /** How the human answers the next elicitations (default: approve once). */
  answer: Answer;
}

/** An agent whose client declares form elicitation; `answer` plays the human. */
export async function formAgent(dir: string): Promise<FormAgent> {
  const agent = (await stdioAgent(dir, { capabilities: { elicitation: { form: {} } } })) as FormAgent;
  agent.asked = [];
  agent.answer = () => ({ action: 'accept', content: { decision: 'approve_once' } });
  agent.client.setRequestHandler(ElicitRequestSchema, async (req) => {
    agent.asked.push(req.params.message);
    return agent.answer(req.params);
  });
  return agent;
}

export const accept = (decision: string, reason?: string): Answer => () => ({ action: 'accept', content: { decision, ...(reason ? { reason } : {}) } });

export type JournalRecord = { name: string; callId?: string; [k: string]: unknown };

/** The journal as `tollgate audit query --json` prints it (a separate process reading the files). */
export async function journal(dir: string, ...filters: string[]): Promise<JournalRecord[]> {
  const r = await runCli(['audit', 'query', '--json', '--config', dir, ...filters]);
  if (r.code !== 0) throw new Error(`audit query failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalRecord);
}

/** Every record of the one call whose tool_call carried these arguments (`path` identifies calls in these tests). */
export function callRecords(records: JournalRecord[], tool: string, path: string): JournalRecord[][] {
  const ids = records.filter((r) => r.name === 'tollgate.tool_call' && r.tool === tool && (r.arguments as { path?: string; text?: string } | undefined)?.path === path).map((r) => r.callId);
  return ids.map((id) => records.filter((r) => r.callId === id));
}

export const step = (records: JournalRecord[], name: string) => records.find((r) => r.name === name);

/** The `<tag>` blocks of the reviewer's user message, parsed back from their JSON quoting. */
export function reviewerBlocks(req: RecordedRequest): { system: string; user: string; blocks: Record<string, unknown>; outside: string } {
  const messages = req.body.messages ?? [];
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = messages.find((m) => m.role === 'user')?.content ?? '';
  const blocks: Record<string, unknown> = {};
  const outside = user.replace(/<(\w+)>\n([\s\S]*?)\n<\/\1>/g, (_m, tag: string, body: string) => {
    blocks[tag] = JSON.parse(body);
    return `<${tag}/>`;
  });
  return { system, user, blocks, outside };
}
