// The option tables against the programs installed here: each row's options are exactly what `PROG --help` lists.
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatSpec, parseHelpOptions } from '../../gateway/policy/getopt.js';
import { COMMAND_ROWS } from '../../gateway/policy/optables.js';

function help(cmd: string): string {
  // run the real program; many print --help on stdout with status 0, a few on stderr
  const r = spawnSync(cmd, ['--help'], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, timeout: 10_000 });
  if (r.error) throw new Error(`${cmd} is not installed or did not run (${r.error.message}); its option table cannot be checked`);
  return `${r.stdout}\n${r.stderr}`;
}

describe('option tables match the installed programs', () => {
  for (const row of COMMAND_ROWS) {
    it(`${row.command}: the table lists exactly the options its --help lists`, () => {
      const text = help(row.command);
      const listed = parseHelpOptions(text).map(formatSpec).filter((s) => !(row.helpNoise ?? []).includes(s));
      expect([...row.options].sort()).toEqual([...listed].sort());
      // `-NUM` in the help ⇔ the row reads a leading -NUM
      if (/^\s+-NUM\b/m.test(text)) expect(row.numericOption, 'its --help lists -NUM').toBeDefined();
    });
  }
  it('a row that invents an option, or misses one, would be caught', () => {
    const row = COMMAND_ROWS.find((r) => r.command === 'sort')!;
    const listed = parseHelpOptions(help('sort')).map(formatSpec).sort();
    expect([...row.options, '--no-such-option'].sort()).not.toEqual(listed);
    expect(row.options.filter((o) => o !== '-o --output=').sort()).not.toEqual(listed);
    expect(listed).toContain('-o --output=');
  });
  it('options a capability names really make the program write or run something (sort -o, date -s)', () => {
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('sort', ['-o', `${dir}/out`, '/dev/null']);
    expect(spawnSync('test', ['-e', `${dir}/out`]).status).toBe(0);
    const r = spawnSync('sort', [`--compress-program=touch`, '-S', '1', '-T', dir, '/dev/null']);
    expect(r.status).toBe(0); // accepted as a spelling; the table calls it a command capability
  });
});
