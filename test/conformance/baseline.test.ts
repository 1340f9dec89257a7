// Verdicts of a conformance run against the expected-failures baseline (pure functions).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPECTED_PROMPTS, EXPECTED_TOOLS, judge, namingProblems, parseBaseline, type ScenarioResult } from './baseline.js';

const ok = (scenario: string): ScenarioResult => ({ scenario, checks: [{ id: scenario, status: 'SUCCESS' }] });
const bad = (scenario: string, status: 'FAILURE' | 'WARNING' = 'FAILURE'): ScenarioResult => ({ scenario, checks: [{ id: scenario, status, errorMessage: 'boom' }] });

describe('parseBaseline', () => {
  it('reads the server list and ignores comments and the client list', () => {
    expect(parseBaseline('f.yml', '# c\nserver:\n  - a-b # why\n  - c\nclient:\n  - d\n')).toEqual(['a-b', 'c']);
    expect(parseBaseline('f.yml', 'server: []\n')).toEqual([]);
  });

  it('names the file and line of anything it does not understand', () => {
    expect(() => parseBaseline('f.yml', 'server:\n  - ok\n  oops: 1\n')).toThrow('f.yml:3: expected "  - scenario-name"');
    expect(() => parseBaseline('f.yml', 'servers:\n')).toThrow('f.yml:1: expected "server:" or "client:"');
  });

  it('accepts the repository baseline', () => {
    const file = join(import.meta.dirname, 'expected-failures.yml');
    expect(parseBaseline(file, readFileSync(file, 'utf8'))).toEqual(['server-sse-polling']);
  });
});

describe('judge', () => {
  it('separates expected failures, unexpected failures and unexpected passes', () => {
    const v = judge([ok('a'), bad('b'), bad('c'), ok('d')], ['c', 'd', 'gone']);
    expect(v.passed).toEqual(['a', 'd']);
    expect(v.expectedFailures).toEqual(['c']);
    expect(v.unexpectedFailures).toEqual(['b']);
    expect(v.unexpectedPasses).toEqual(['d']);
    expect(v.unknownEntries).toEqual(['gone']);
  });

  it('counts a warning as a failed scenario, as the suite does', () => {
    const v = judge([bad('w', 'WARNING')], []);
    expect(v.unexpectedFailures).toEqual(['w']);
    expect(v.checksWarned).toBe(1);
  });
});

describe('namingProblems', () => {
  const listing = (tools: string[], prompts: string[]): ScenarioResult[] => [
    { scenario: 'tools-list', checks: [{ id: 'tools-list', status: 'SUCCESS', details: { tools } }] },
    { scenario: 'prompts-list', checks: [{ id: 'prompts-list', status: 'SUCCESS', details: { prompts } }] },
  ];

  it('accepts bare names', () => {
    expect(namingProblems(listing(EXPECTED_TOOLS, EXPECTED_PROMPTS))).toEqual([]);
  });

  it('catches namespaced names that let weak scenarios pass on an error text', () => {
    const problems = namingProblems(listing(EXPECTED_TOOLS.map((t) => `conf__${t}`), EXPECTED_PROMPTS));
    expect(problems).toHaveLength(EXPECTED_TOOLS.length);
    expect(problems[0]).toContain('tools/list lacks "test_simple_text"');
  });
});
