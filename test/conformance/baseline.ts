// Pure verdicts for a conformance run: read the suite's checks.json files, judge each scenario, compare with the expected-failures baseline.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
export interface Check {
  id: string;
  status: CheckStatus;
  errorMessage?: string;
  details?: Record<string, unknown>;
}
export interface ScenarioResult {
  scenario: string;
  checks: Check[];
}

/** What the fixture must show under its bare names; a gateway that hides or renames them must not pass by accident. */
export const EXPECTED_TOOLS = [
  'test_simple_text', 'test_image_content', 'test_audio_content', 'test_embedded_resource', 'test_multiple_content_types',
  'test_tool_with_logging', 'test_error_handling', 'test_tool_with_progress', 'test_sampling', 'test_elicitation',
  'test_elicitation_sep1034_defaults', 'test_elicitation_sep1330_enums', 'json_schema_2020_12_tool', 'test_reconnection',
];
export const EXPECTED_PROMPTS = ['test_simple_prompt', 'test_prompt_with_arguments', 'test_prompt_with_embedded_resource', 'test_prompt_with_image'];

/**
 * Reads the baseline: a YAML mapping with a `server:` list of scenario names (the format the suite's
 * --expected-failures takes). Only that subset of YAML is accepted; anything else is an error naming the line.
 */
export function parseBaseline(file: string, text: string): string[] {
  const out: string[] = [];
  let inServer = false;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trimEnd();
    if (!line.trim()) return;
    if (/^server:\s*(\[\])?$/.test(line)) {
      inServer = true;
      return;
    }
    if (/^\S/.test(line)) {
      if (/^client:\s*(\[\])?$/.test(line)) {
        inServer = false;
        return;
      }
      throw new Error(`${file}:${i + 1}: expected "server:" or "client:", got "${line}"`);
    }
    const m = /^\s+-\s+([A-Za-z0-9_.-]+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "  - scenario-name", got "${line.trim()}"`);
    if (inServer) out.push(m[1]!);
  });
  return out;
}

/** A scenario fails when any check is FAILURE or WARNING — the same rule the suite applies to a baseline. */
export function scenarioFailed(r: ScenarioResult): boolean {
  return r.checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING');
}

/** Extra checks of ours: the scenarios' tools and prompts are listed under their bare names. */
export function namingProblems(results: ScenarioResult[]): string[] {
  const problems: string[] = [];
  const listed = (scenario: string, id: string, key: string) => {
    const c = results.find((r) => r.scenario === scenario)?.checks.find((x) => x.id === id);
    return c ? ((c.details?.[key] as string[] | undefined) ?? []) : undefined;
  };
  const tools = listed('tools-list', 'tools-list', 'tools');
  if (tools) for (const t of EXPECTED_TOOLS) if (!tools.includes(t)) problems.push(`tools/list lacks "${t}" (listed: ${tools.join(', ') || 'none'})`);
  const prompts = listed('prompts-list', 'prompts-list', 'prompts');
  if (prompts) for (const p of EXPECTED_PROMPTS) if (!prompts.includes(p)) problems.push(`prompts/list lacks "${p}" (listed: ${prompts.join(', ') || 'none'})`);
  return problems;
}

export interface Verdict {
  passed: string[];
  failed: string[];
  expectedFailures: string[];
  unexpectedFailures: string[];
  /** In the baseline but passing now: the baseline must shrink. */
  unexpectedPasses: string[];
  /** In the baseline but not run at all. */
  unknownEntries: string[];
  checksPassed: number;
  checksFailed: number;
  checksWarned: number;
}

export function judge(results: ScenarioResult[], baseline: string[]): Verdict {
  const expected = new Set(baseline);
  const v: Verdict = { passed: [], failed: [], expectedFailures: [], unexpectedFailures: [], unexpectedPasses: [], unknownEntries: [], checksPassed: 0, checksFailed: 0, checksWarned: 0 };
  for (const r of results) {
    v.checksPassed += r.checks.filter((c) => c.status === 'SUCCESS').length;
    v.checksFailed += r.checks.filter((c) => c.status === 'FAILURE').length;
    v.checksWarned += r.checks.filter((c) => c.status === 'WARNING').length;
    if (scenarioFailed(r)) {
      v.failed.push(r.scenario);
      (expected.has(r.scenario) ? v.expectedFailures : v.unexpectedFailures).push(r.scenario);
    } else {
      v.passed.push(r.scenario);
      if (expected.has(r.scenario)) v.unexpectedPasses.push(r.scenario);
    }
  }
  const ran = new Set(results.map((r) => r.scenario));
  v.unknownEntries = baseline.filter((s) => !ran.has(s));
  return v;
}

/** Reads `<dir>/server-<scenario>-<timestamp>/checks.json` as the suite writes them with -o. */
export function readResults(dir: string): ScenarioResult[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'checks.json')))
    .map((d) => ({
      scenario: d.name.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, ''),
      checks: JSON.parse(readFileSync(join(dir, d.name, 'checks.json'), 'utf8')) as Check[],
    }))
    .sort((a, b) => a.scenario.localeCompare(b.scenario));
}
