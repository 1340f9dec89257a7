// Option tables as data: getopt_long parsing, every GNU spelling of every option agrees with its row, rows prove themselves.
import { beforeAll, describe, expect, it } from 'vitest';
import { getoptLong, parseHelpOptions, parseSpec, formatSpec, type OptionSpec } from '../../gateway/policy/getopt.js';
import { COMMAND_ROWS, COMMAND_TABLE, compileRows, type CommandRow } from '../../gateway/policy/optables.js';
import { analyzeScript, initPolicy, verifyCommandRows } from '../../gateway/policy/shell.js';

beforeAll(() => initPolicy());

const decide = (script: string) => analyzeScript(script, () => null, []);

describe('getoptLong as glibc parses', () => {
  const syntax = { options: ['-a --all', '-w --width=', '--color[=]', '--colour[=]', '-o --output=', '--one', '-n', '-I[=] --iso[=]'].map(parseSpec) };
  it.each([
    [['-aw80'], [['all'], ['width', '80']]],
    [['-a', '-w', '80'], [['all'], ['width', '80']]],
    [['--wid=80'], [['width', '80']]],
    [['--wid', '80'], [['width', '80']]],
    [['--al'], [['all']]],
    [['--color'], [['color']]],
    [['--color=never'], [['color', 'never']]],
    [['--out', 'x'], [['output', 'x']]],
    [['--one'], [['one']]], // an exact match beats longer names it prefixes
    [['-Ifoo'], [['iso', 'foo']]],
    [['-I', 'x'], [['iso']]], // optional: attached only, `x` is an operand
    [['file', '-n'], [['n']]], // GNU permutes
    [['--', '-n'], []],
  ])('%j', (argv, want) => {
    const r = getoptLong(argv, syntax);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.options.map((o) => (o.value === undefined ? [o.id] : [o.id, o.value]))).toEqual(want);
  });
  it.each([
    [['--col'], /ambiguous/], [['--o'], /ambiguous/], [['--zzz'], /unrecognized/], [['-z'], /invalid option/], [['--all=1'], /doesn't allow/], [['-w'], /requires/], [['--width'], /requires/],
  ])('%j is an error', (argv, re) => {
    const r = getoptLong(argv, syntax);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(re);
  });
  it('the rest after -- and lone - are operands', () => {
    expect(getoptLong(['-', '--', '--all'], syntax)).toEqual({ ok: true, options: [], operands: ['-', '--all'] });
  });
});

describe('reading option specs from --help text', () => {
  it('GNU help lines', () => {
    const help = ['  -a, --all                  do not ignore', '  -w, --width=COLS           set width', '      --color[=WHEN]         colorize', '  -u, -U NUM, --unified[=NUM]   unified', '  -I[FMT], --iso-8601[=FMT]  iso', '      --color[=WHEN],', '      --colour[=WHEN]       use markers', '  -NUM                      same as --context=NUM', '  -c  --format=FORMAT   use FORMAT', 'Usage: prog [OPTION]... -x'].join('\n');
    expect(parseHelpOptions(help).map(formatSpec)).toEqual(['-a --all', '-w --width=', '--color[=]', '-u', '-U=', '--unified[=]', '-I[=] --iso-8601[=]', '--colour[=]', '-c --format=']);
  });
  it('signatures round-trip', () => {
    for (const sig of ['-a --all', '-w --width=', '--color[=]', '-I[=] --iso-8601[=]', '-U=', '-1']) expect(formatSpec(parseSpec(sig))).toBe(sig);
    expect(() => parseSpec('--')).toThrow(/malformed option signature/);
  });
});

/** Every way GNU getopt_long accepts to say this option (with a value where it takes one). */
function spellings(o: OptionSpec, all: OptionSpec[]): string[] {
  const out: string[] = [];
  const v = 'x';
  const shortKind = o.shortArg ?? (o.arg === 'optional' && o.long ? 'none' : o.arg);
  if (o.short) {
    if (shortKind === 'none') {
      out.push(`-${o.short}`);
      const other = all.find((x) => x.short && x.short !== o.short && x.arg === 'none' && !x.shortArg && /[a-z]/i.test(x.short));
      if (other) out.push(`-${other.short}${o.short}`); // combined flags
    } else if (shortKind === 'required') out.push(`-${o.short}${v}`, `-${o.short} ${v}`);
    else out.push(`-${o.short}`, `-${o.short}${v}`);
  }
  if (o.long) {
    const longs = all.filter((x) => x.long).map((x) => x.long!);
    const prefixes: string[] = [];
    for (let n = 1; n <= o.long.length; n++) {
      const p = o.long.slice(0, n);
      if (p === o.long || longs.filter((l) => l.startsWith(p)).length === 1) prefixes.push(p);
    }
    for (const p of prefixes) {
      if (o.arg === 'none') out.push(`--${p}`);
      else if (o.arg === 'required') out.push(`--${p}=${v}`, `--${p} ${v}`);
      else out.push(`--${p}`, `--${p}=${v}`);
    }
  }
  return out;
}

const operandFor = (r: CommandRow) => (r.command === 'date' ? '+%s' : r.command === 'seq' ? '3' : 'f');

describe('property: every GNU spelling of every option in every row agrees with the table', () => {
  for (const row of COMMAND_TABLE.values()) {
    it(`${row.command}: ${row.options.length} options`, () => {
      let checked = 0;
      for (const o of row.syntax.options) {
        const cap = row.capabilities?.[o.id];
        for (const sp of spellings(o, row.syntax.options)) {
          // a combined spelling carries the other flag too; it is capability-free by construction
          const v = decide(`${row.command} ${sp} -- ${operandFor(row)}`);
          expect(v.decision === 'allow', `${row.command} ${sp}: ${v.decision} — ${v.reasons.join('; ')}`).toBe(!cap);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(row.options.length);
    });
  }
  it('an option not in the table is never allowed, in any spelling', () => {
    for (const row of COMMAND_TABLE.values()) {
      for (const sp of ['--no-such-option-zz', '--no-such-option-zz=1', '-j', '-%']) {
        if (row.syntax.options.some((o) => o.short === sp.slice(1))) continue;
        expect(decide(`${row.command} ${sp} f`).decision, `${row.command} ${sp}`).not.toBe('allow');
      }
    }
  });
});

describe('rows prove themselves at load', () => {
  it('every shipped row passes its examples', () => {
    expect(verifyCommandRows(COMMAND_ROWS)).toEqual([]);
  });
  it('a failing example is named with its row', () => {
    const bad: CommandRow = { command: 'sort', derivedFrom: 'test', options: ['-o --output=', '-u --unique'], match: ['sort -u f', 'sort -o out f'], notMatch: ['sort -u f'] };
    // verifyCommandRows checks the row against the live analyser (the shipped sort row knows -o writes)
    const errs = verifyCommandRows([COMMAND_ROWS[0]!, bad]);
    expect(errs).toEqual([
      'row 1 (sort): match[1] "sort -o out f" is review, expected allow (sort -o out can write files)',
      'row 1 (sort): notMatch[0] "sort -u f" is allow, expected not allow',
    ]);
  });
  it('a capability naming no option, or a malformed signature, is refused naming the row', () => {
    expect(() => compileRows([{ command: 'x', derivedFrom: '', options: ['-a --all'], capabilities: { output: 'file-write' }, match: [], notMatch: [] }])).toThrow(/row 0 \(x\): capability for "output"/);
    expect(() => compileRows([{ command: 'y', derivedFrom: '', options: ['--'], match: [], notMatch: [] }])).toThrow(/row 0 \(y\): malformed option signature/);
  });
});
