// A scripted session: every step of three calls (rule-allowed, reviewer-approved, human-denied) as the pipeline records them.
import { sha256Digest, type Audit, type AuditEventInput } from '../../gateway/audit/index.js';

export const PLANTED_KEY = 'sk-proj-PLANTEDsecretKEY0123456789abcdefXYZ';
export const PLANTED_GH = 'ghp_PLANTEDghTOKEN0123456789abcdefghijklmn';

export function scriptedSession(sessionId = 's-1'): AuditEventInput[] {
  const base = { sessionId, identity: 'alice' };
  const args1 = { path: '/work/README.md' };
  const args2 = { command: `curl -H "Authorization: Bearer ${PLANTED_KEY}" https://api.example.com/v1`, env: { OPENAI_API_KEY: PLANTED_KEY } };
  return [
    { name: 'tollgate.config_loaded', files: ['tollgate.json', 'servers.json'], policyVersion: 'p1', violations: [] },
    { name: 'tollgate.session_start', ...base, method: 'initialize', transport: 'http', clientName: 'claude-code', clientVersion: '2.1', protocolVersion: '2025-11-25',
      capabilities: { elicitationForm: true, elicitationUrl: false, sampling: false, roots: true } },
    { name: 'tollgate.user_prompt', ...base, text: 'please read the readme', length: 22, digest: sha256Digest('please read the readme') },
    // call 1: allowed by a rule
    { name: 'tollgate.tool_call', ...base, callId: 'c-1', server: 'fs', tool: 'fs__read_file', method: 'tools/call', arguments: args1, argsDigest: sha256Digest(JSON.stringify(args1)) },
    { name: 'tollgate.policy_decision', callId: 'c-1', decision: 'allow', reasons: ['fs__read_* is allowed'], matched: ['rules[0]'], mode: 'auto-review' },
    { name: 'tollgate.tool_decision', callId: 'c-1', decision: 'approved', source: 'rule', reasons: ['fs__read_* is allowed'] },
    { name: 'tollgate.tool_result', callId: 'c-1', durationMs: 12, success: true, isError: false, outputBytes: 120, output: { content: [{ type: 'text', text: `token ${PLANTED_GH}` }] } },
    // call 2: reviewed, low risk, auto-approved; touches the network
    { name: 'tollgate.tool_call', ...base, callId: 'c-2', server: 'sh', tool: 'sh__exec', method: 'tools/call', arguments: args2, argsDigest: sha256Digest(JSON.stringify(args2)) },
    { name: 'tollgate.policy_decision', callId: 'c-2', decision: 'review', reasons: ['curl needs review'], matched: ['rules[3]'], mode: 'auto-review' },
    { name: 'tollgate.review', callId: 'c-2', model: 'guard-1', riskLevel: 'low', userAuthorization: 'high', outcome: 'allow', rationale: 'user asked for it', latencyMs: 840, cached: false, autoApproved: true },
    { name: 'tollgate.tool_decision', callId: 'c-2', decision: 'approved', source: 'automated_reviewer', reasons: ['low risk'] },
    { name: 'tollgate.network_decision', callId: 'c-2', host: 'api.example.com', port: 443, protocol: 'https', method: 'CONNECT', decision: 'allow', source: 'allowedDomains', reasons: ['**.example.com'] },
    { name: 'tollgate.tool_result', callId: 'c-2', durationMs: 310, success: true, isError: false, outputBytes: 64, output: `echo ${PLANTED_KEY}` },
    // call 3: reviewer says medium, human denies
    { name: 'tollgate.tool_call', ...base, callId: 'c-3', server: 'sh', tool: 'sh__exec', method: 'tools/call', arguments: { command: 'git push origin main' }, argsDigest: sha256Digest('{"command":"git push origin main"}') },
    { name: 'tollgate.policy_decision', callId: 'c-3', decision: 'review', reasons: ['git push'], matched: ['rules[1]'], mode: 'auto-review' },
    { name: 'tollgate.review', callId: 'c-3', model: 'guard-1', riskLevel: 'medium', outcome: 'allow', latencyMs: 900, cached: false, autoApproved: false },
    { name: 'tollgate.human_decision', callId: 'c-3', channel: 'form', decision: 'deny', approver: 'alice', reason: 'not today', waitMs: 5200 },
    { name: 'tollgate.tool_decision', callId: 'c-3', decision: 'denied', source: 'user', reasons: ['human denied: not today'] },
    { name: 'tollgate.network_decision', sessionId, host: 'paste.example.org', port: 443, protocol: 'https', decision: 'deny', source: 'deniedDomains', reasons: ['*.example.org'] },
    { name: 'tollgate.upstream', server: 'fs', event: 'restarted', pid: 4242, exitCode: 1, attempt: 2 },
    { name: 'tollgate.tool_definition_changed', server: 'fs', tool: 'fs__write_file', previousHash: 'aaa', currentHash: 'bbb' },
    { name: 'tollgate.session_end', ...base, reason: 'closed', durationMs: 60_000, calls: 3 },
  ];
}

export async function recordAll(audit: Audit, events: AuditEventInput[]): Promise<void> {
  for (const e of events) await audit.record(e);
}
