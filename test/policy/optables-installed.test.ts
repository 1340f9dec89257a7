// The option tables against the programs installed here: each row's options are exactly what the program itself lists.
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { formatSpec, parseHelpOptions } from '../../gateway/policy/getopt.js';
import { COMMAND_ROWS, FIND_EXPRESSION, GIT_ROWS, type CommandRow } from '../../gateway/policy/optables.js';

function run(argv: string[]): string {
  // run the real program; many print --help on stdout with status 0, a few on stderr; outside any git repository
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: tmpdir(), env: { ...process.env, LC_ALL: 'C', MANWIDTH: '250', MAN_KEEP_FORMATTING: '' }, timeout: 10_000 });
  if (r.error) throw new Error(`${argv[0]} is not installed or did not run (${r.error.message}); its option table cannot be checked`);
  return `${r.stdout}\n${r.stderr}`;
}
const help = (cmd: string) => run([cmd, '--help']);

/** unzip -h: two columns of `-x  text` per line. */
function columnOptions(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) for (const m of line.matchAll(/(?:^|\s{2,})-([A-Za-z])\s{1,2}(?=\S)/g)) out.add(`-${m[1]}`);
  return [...out];
}

/** Option names a man page lists in its OPTIONS items (`--since=<date>, --after=<date>`, `-n <number>`, `--[no-]mailmap`). */
export function manOptionNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (!/^ {7}-/.test(line)) continue;
    const items = line.trim().split(/,\s+(?=-)/);
    if (!items.every((t) => /^(--(\[no-\])?[A-Za-z0-9][\w-]*|-[A-Za-z0-9])(\[?=?[<[(].*|[<[].*| <.*|)$/.test(t))) continue;
    for (const t of items) {
      const m = /^(--(\[no-\])?[A-Za-z0-9][\w-]*|-[A-Za-z0-9])/.exec(t)!;
      if (m[2]) {
        out.add(m[1]!.replace('[no-]', ''));
        out.add(m[1]!.replace('[no-]', 'no-'));
      } else out.add(m[1]!);
    }
  }
  return out;
}

/** The names (`-a`, `--all`) a row's signatures spell. */
const namesOf = (sigs: string[]) => new Set(sigs.flatMap((s) => s.split(/\s+/).map((t) => t.replace(/\[?=\]?$/, ''))));

function listed(row: CommandRow): string[] {
  const argv = row.help?.argv ?? [row.command, '--help'];
  const text = run(argv);
  if (row.help?.format === 'columns') return columnOptions(text);
  return parseHelpOptions(text, { shortTakesOptional: argv[0] === 'git' }).map(formatSpec);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('option tables match the installed programs', () => {
  for (const row of COMMAND_ROWS.filter((r) => r.help?.format !== 'man')) {
    it(`${row.command}: the table lists exactly the options its ${(row.help?.argv ?? [row.command, '--help']).join(' ')} lists`, () => {
      const spelled = row.helpSpelling ?? {};
      const got = listed(row).filter((s) => !(row.helpNoise ?? []).includes(s));
      const text = run(row.help?.argv ?? [row.command, '--help']);
      for (const [sig, shown] of Object.entries(spelled)) expect(text, `${row.command} lists ${sig} as ${shown}`).toContain(` ${shown} `);
      const mine = row.options.filter((o) => !(o in spelled));
      if (row.help?.format === 'columns') expect([...namesOf(mine)].sort()).toEqual([...got].sort());
      else expect([...mine].sort()).toEqual([...got].sort());
      // `-NUM` in the help ⇔ the row reads a leading -NUM
      if (/^\s+-NUM\b/m.test(text)) expect(row.numericOption, 'its --help lists -NUM').toBeDefined();
    });
  }
  // git: `git SUB -h` lists its parse-options exactly; log/show/diff take revision and diff options only their man
  // pages list, by name. Every -h spec is in the row as written, every man option is in the row, and the row names
  // nothing that neither text shows.
  for (const row of [...COMMAND_ROWS, ...GIT_ROWS].filter((r) => r.help?.format === 'man' || r.command.startsWith('git '))) {
    it(`${row.command}: every option its -h${row.help?.man ? ` and ${row.help.man}(1)` : ''} lists, and nothing else`, () => {
      const exact = [row.help!.argv, ...(row.help!.precise ?? [])].flatMap((argv) => parseHelpOptions(run(argv), { shortTakesOptional: true }).map(formatSpec));
      for (const sig of exact) expect(row.options, `${sig} (from -h)`).toContain(sig);
      const names = namesOf(row.options);
      if (row.help?.man) {
        const man = run(['man', '-P', 'cat', row.help.man]);
        for (const n of manOptionNames(man)) expect(names.has(n), `${n} (from ${row.help.man}(1)) is in the row`).toBe(true);
        const shown = namesOf(exact);
        for (const n of names) {
          if (shown.has(n)) continue;
          const spelled = [n, n.startsWith("--no-") ? `--[no-]${n.slice(5)}` : `--[no-]${n.slice(2)}`].map(escape).join('|');
          expect(man, `${n} is shown by -h or ${row.help.man}(1)`).toMatch(new RegExp(`(^|[\\s\\[(,|])(${spelled})(?![\\w-])`, 'm'));
        }
      } else expect([...row.options].sort()).toEqual([...exact].sort());
    });
  }
  it('find: the expression table lists exactly the primaries find --help lists (with their argument counts), and find(1) the rest', () => {
    const text = help('find');
    const body = text.slice(text.indexOf('Positional options'), text.indexOf('Valid arguments for -D'));
    const listed = new Map<string, number>();
    for (const line of body.split('\n')) {
      if (!/^\s+-/.test(line)) continue;
      // `-fprintf FILE FORMAT -print`: a primary and the words after it up to the next primary
      const words = line.trim().split(/\s+/);
      for (let i = 0; i < words.length; i++) {
        if (!/^--?[a-z]/.test(words[i]!) || ['-and', '-or', '-not', '-a', '-o'].includes(words[i]!)) continue;
        let n = 0;
        // `--help   display this help`: the common options take nothing; the rest of their line is prose
        if (words[i]!.startsWith('--')) {
          listed.set(words[i]!, 0);
          break;
        }
        while (i + 1 + n < words.length && !/^--?[a-z]/.test(words[i + 1 + n]!) && !['EXPR', 'EXPR1', 'EXPR2'].includes(words[i + 1 + n]!)) n++;
        listed.set(words[i]!, n);
      }
    }
    const exec = ['-exec', '-execdir', '-ok', '-okdir'];
    for (const [p, n] of listed) {
      if (exec.includes(p)) continue;
      // help shows `-regextype` with no argument; find(1) documents `-regextype type`
      const want = p === '-regextype' ? 1 : n;
      expect(FIND_EXPRESSION.primaries[p], `${p} from find --help`).toBeDefined();
      expect(FIND_EXPRESSION.primaries[p]!.args, `${p} takes ${want}`).toBe(want);
    }
    for (const p of exec) expect(listed.has(p)).toBe(true);
    const man = run(['man', '-P', 'cat', 'find']);
    for (const p of Object.keys(FIND_EXPRESSION.primaries)) {
      if (listed.has(p)) continue;
      const shown = /^-newer[aBcmt]{2}$/.test(p) ? '-newerXY' : p;
      expect(FIND_EXPRESSION.fromMan, `${p} is not in find --help`).toContain(shown);
      expect(man).toMatch(new RegExp(`^ {7}${escape(shown)}\\b`, 'm'));
    }
  });
  it('a row that invents an option, or misses one, would be caught', () => {
    const row = COMMAND_ROWS.find((r) => r.command === 'sort')!;
    const got = parseHelpOptions(help('sort')).map(formatSpec).sort();
    expect([...row.options, '--no-such-option'].sort()).not.toEqual(got);
    expect(row.options.filter((o) => o !== '-o --output=').sort()).not.toEqual(got);
    expect(got).toContain('-o --output=');
  });
  it('options a capability names really make the program write or run something (sort -o, date -s)', () => {
    const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync('sort', ['-o', `${dir}/out`, '/dev/null']);
    expect(spawnSync('test', ['-e', `${dir}/out`]).status).toBe(0);
    const r = spawnSync('sort', [`--compress-program=touch`, '-S', '1', '-T', dir, '/dev/null']);
    expect(r.status).toBe(0); // accepted as a spelling; the table calls it a command capability
  });
});

describe('capabilities are real: the option does what the row says, and the read the row allows does not', () => {
  const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
  const sh = (cmd: string) => spawnSync('bash', ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', HOME: dir }, timeout: 10_000 });
  const exists = (f: string) => spawnSync('test', ['-e', `${dir}/${f}`]).status === 0;
  // a "program" that leaves a mark when something runs it
  execFileSync('bash', ['-c', `printf '#!/bin/sh\\ntouch ${dir}/ran\\ncat "$1"\\n' > ${dir}/mark && chmod +x ${dir}/mark && echo hello > ${dir}/h`]);
  const ran = (cmd: string) => {
    spawnSync('rm', ['-f', `${dir}/ran`]);
    sh(cmd);
    return exists('ran');
  };
  it.each([
    ['rg --pre ./mark hello h', true], ['rg -e --pre ./mark h', false], ['fdfind -x ./mark', true], ['fdfind -e --exec ./mark', false],
    ["gawk 'BEGIN{system(\"./mark\")}'", true], ["gawk '{print \"a > b | ./mark\"}' h", false], ["sed 's/hello/.\\/mark/e' h", true], ["sed 's/hello/x/' h", false],
    ['tar -cf a.tar h && tar -xf a.tar --to-command=./mark', true], ['tar -tf a.tar', false], ['tar -tf a.tar -I ./mark', true],
    ['git init -q r; git -C r -c user.name=a -c user.email=a@b commit -q --allow-empty -m x; git -C r -c alias.z=!../mark z', true], ['env -S ./mark', true], ['xargs ./mark < /dev/null', true],
  ])('%s runs a program: %s', (cmd, want) => {
    expect(ran(cmd)).toBe(want);
  });
  it.each([
    ['tree -ao out1 .', 'out1'], ["sed -n 'w out2' h", 'out2'], ["gawk '{print > \"out3\"}' h", 'out3'], ['xxd h out4', 'out4'], ['find . -maxdepth 0 -fprint out5', 'out5'],
    ['curl -s -o out6 file:///dev/null', 'out6'], ['git -C r log --output=../out7', 'out7'], ['sort -o out8 h', 'out8'],
  ])('%s writes a file', (cmd, file) => {
    sh(cmd);
    expect(exists(file), cmd).toBe(true);
  });
});
