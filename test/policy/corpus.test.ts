// `tollgate check --batch` over everyday developer commands and a dangerous list: the share allowed, from outside.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../helpers/gateway.js';

const lines = (f: string) => readFileSync(join(import.meta.dirname, 'fixtures', f), 'utf8').split('\n').filter((l) => l.trim() !== '');
/** The floor the everyday share must stay above (measured 98 %; the goal is ≥ 95 %). */
const EVERYDAY_FLOOR = 0.95;

async function batch(commands: string[]): Promise<{ decision: string; reasons: string[] }[]> {
  const dir = configDir({});
  const r = await runCli(['check', '--batch', '--config', dir], { input: commands.map((shell) => JSON.stringify({ shell })).join('\n') + '\n' });
  expect(r.code, r.stderr).toBe(0);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { decision: string; reasons: string[] });
  expect(out).toHaveLength(commands.length);
  return out;
}

describe('tollgate check --batch over the corpora', () => {
  const dangerous = lines('dangerous.txt');
  const everyday = lines('everyday.txt');
  let dangerousOut: { decision: string; reasons: string[] }[];
  let everydayOut: { decision: string; reasons: string[] }[];
  // one CLI process for both lists (its start-up dominates on a loaded machine); it waits for the process to end
  beforeAll(async () => {
    const out = await batch([...dangerous, ...everyday]);
    dangerousOut = out.slice(0, dangerous.length);
    everydayOut = out.slice(dangerous.length);
  }, 180_000);

  it('no command of the dangerous list is allowed', () => {
    const cmds = dangerous;
    expect(cmds.length).toBeGreaterThanOrEqual(150);
    const out = dangerousOut;
    const allowed = cmds.filter((_, i) => out[i]!.decision === 'allow');
    expect(allowed).toEqual([]);
  });

  it(`at least ${EVERYDAY_FLOOR * 100} % of ${'>'}300 everyday developer commands are allowed`, () => {
    const cmds = everyday;
    expect(cmds.length).toBeGreaterThanOrEqual(300);
    const out = everydayOut;
    const notAllowed = cmds.map((c, i) => [c, out[i]!] as const).filter(([, v]) => v.decision !== 'allow');
    const share = 1 - notAllowed.length / cmds.length;
    process.stdout.write(`everyday allowed: ${cmds.length - notAllowed.length}/${cmds.length} = ${(share * 100).toFixed(1)} %; not allowed:\n${notAllowed.map(([c, v]) => `  ${v.decision.padEnd(6)} ${c} — ${v.reasons.join('; ')}`).join('\n')}\n`);
    expect(share).toBeGreaterThanOrEqual(EVERYDAY_FLOOR);
  });
});
