// Known commands' option tables as data: each row is derived from the installed program's --help, names the
// options that carry a capability (write files, run commands, change the system), and proves itself with examples.
import { getoptLong, parseSpec, type Syntax } from './getopt.js';

/** What an option can make a program do beyond reading: the GTFOBins-style capability it carries. */
export type Capability = 'shell' | 'command' | 'file-write' | 'upload' | 'library-load' | 'system';

export type CommandRow = {
  command: string;
  /** Where the option list came from (the program and version it was read from on the reference machine). */
  derivedFrom: string;
  /** Option signatures: `-a --all`, `-w --width=` (required argument), `--color[=]` (optional, attached only). */
  options: string[];
  /** `head -5`: a leading -NUM is this option's value. */
  numericOption?: string;
  /** Options (by id: long name, else letter) that make the command more than a read. */
  capabilities?: Record<string, Capability>;
  /** Constraints on operands for the command to stay a read. */
  operands?: { max?: number; pattern?: string; why: string };
  /** Lines of the program's --help that look like options but are prose (ignored when comparing). */
  helpNoise?: string[];
  /** Commands this row must classify read-only (allow) / must not. Checked at load. */
  match: string[];
  notMatch: string[];
};

export const COMMAND_ROWS: CommandRow[] = [
  {
    command: 'ls',
    derivedFrom: 'ls --help (ls (GNU coreutils) 9.1)',
    options: ['-a --all', '-A --almost-all', '--author', '-b --escape', '--block-size=', '-B --ignore-backups', '-c', '-C', '--color[=]', '-d --directory', '-D --dired', '-f', '-F --classify[=]', '--file-type', '--format=', '--full-time', '-g', '--group-directories-first', '-G --no-group', '-h --human-readable', '--si', '-H --dereference-command-line', '--dereference-command-line-symlink-to-dir', '--hide=', '--hyperlink[=]', '--indicator-style=', '-i --inode', '-I --ignore=', '-k --kibibytes', '-l', '-L --dereference', '-m', '-n --numeric-uid-gid', '-N --literal', '-o', '-q --hide-control-chars', '--show-control-chars', '-Q --quote-name', '--quoting-style=', '-r --reverse', '-R --recursive', '-s --size', '-S', '--sort=', '--time=', '--time-style=', '-t', '-T --tabsize=', '-u', '-U', '-v', '-w --width=', '-x', '-X', '-Z --context', '--zero', '-1', '--help', '--version'],
    match: ['ls -la', 'ls -la --color=auto src', 'ls --col=never', 'ls -1 --sort=time', 'ls -lhtr --time-style=long-iso'],
    notMatch: ['ls --bogus', 'ls -j', 'ls $(echo -la)'],
  },
  {
    command: 'cat',
    derivedFrom: 'cat --help (cat (GNU coreutils) 9.1)',
    options: ['-A --show-all', '-b --number-nonblank', '-e', '-E --show-ends', '-n --number', '-s --squeeze-blank', '-t', '-T --show-tabs', '-u', '-v --show-nonprinting', '--help', '--version'],
    match: ['cat -n README.md', 'cat -A --show-e file'],
    notMatch: ['cat --evil x', 'cat -x y'],
  },
  {
    command: 'head',
    derivedFrom: 'head --help (head (GNU coreutils) 9.1)',
    options: ['-c --bytes=', '-n --lines=', '-q --quiet', '--silent', '-v --verbose', '-z --zero-terminated', '--help', '--version'],
    numericOption: 'lines',
    match: ['head -n 20 file', 'head -5 file', 'head -c1k f', 'head --li=3 f'],
    notMatch: ['head -Q f', 'head --li'],
  },
  {
    command: 'tail',
    derivedFrom: 'tail --help (tail (GNU coreutils) 9.1)',
    options: ['-c --bytes=', '-f --follow[=]', '-F', '-n --lines=', '--max-unchanged-stats=', '--pid=', '-q --quiet', '--silent', '--retry', '-s --sleep-interval=', '-v --verbose', '-z --zero-terminated', '--help', '--version'],
    numericOption: 'lines',
    match: ['tail -n 50 log', 'tail -20 log', 'tail -f log', 'tail --follow=name log', 'tail -F log'],
    notMatch: ['tail --zzz log'],
  },
  {
    command: 'wc',
    derivedFrom: 'wc --help (wc (GNU coreutils) 9.1)',
    options: ['-c --bytes', '-m --chars', '-l --lines', '--files0-from=', '-L --max-line-length', '-w --words', '--help', '--version'],
    match: ['wc -l src/a.ts', 'wc --li f'],
    notMatch: ['wc -x f'],
  },
  {
    command: 'sort',
    derivedFrom: 'sort --help (sort (GNU coreutils) 9.1)',
    options: ['-b --ignore-leading-blanks', '-d --dictionary-order', '-f --ignore-case', '-g --general-numeric-sort', '-i --ignore-nonprinting', '-M --month-sort', '-h --human-numeric-sort', '-n --numeric-sort', '-R --random-sort', '--random-source=', '-r --reverse', '--sort=', '-V --version-sort', '--batch-size=', '-c --check[=]', '--compress-program=', '--debug', '--files0-from=', '-k --key=', '-m --merge', '-o --output=', '-s --stable', '-S --buffer-size=', '-t --field-separator=', '-T --temporary-directory=', '--parallel=', '-u --unique', '-z --zero-terminated', '--help', '--version'],
    capabilities: { output: 'file-write', 'compress-program': 'command', 'temporary-directory': 'file-write' },
    match: ['sort -u names', 'sort -k2,2n -t, data.csv', 'sort --rev f', 'sort -c f', 'sort --check=quiet f'],
    notMatch: ['sort -o out f', 'sort -uo out f', 'sort --out=x f', 'sort --output x f', 'sort --compress-prog=sh f', 'sort --comp=sh f', 'sort -T /tmp f', 'sort -S 1M -o x f'],
  },
  {
    command: 'uniq',
    derivedFrom: 'uniq --help (uniq (GNU coreutils) 9.1)',
    options: ['-c --count', '-d --repeated', '-D', '--all-repeated[=]', '-f --skip-fields=', '--group[=]', '-i --ignore-case', '-s --skip-chars=', '-u --unique', '-z --zero-terminated', '-w --check-chars=', '--help', '--version'],
    operands: { max: 1, why: 'a second operand is an OUTPUT file uniq writes' },
    match: ['uniq -c', 'uniq -c sorted.txt', 'uniq --group=append f'],
    notMatch: ['uniq in out', 'uniq -c in out'],
  },
  {
    command: 'date',
    derivedFrom: 'date --help (date (GNU coreutils) 9.1)',
    options: ['-d --date=', '--debug', '-f --file=', '-I[=] --iso-8601[=]', '--resolution', '-R --rfc-email', '--rfc-3339=', '-r --reference=', '-s --set=', '-u --utc', '--universal', '--help', '--version'],
    capabilities: { set: 'system' }, operands: { pattern: '^\\+', why: 'an operand other than +FORMAT sets the system clock' },
    match: ['date', 'date -d yesterday', 'date +%Y-%m-%d', 'date -u +%s', 'date --iso-8601=seconds', 'date -I', 'date -Iseconds', 'date -R'],
    notMatch: ['date -s 2020-01-01', 'date --set=now', 'date --se now', 'date 010203042020', 'date -us now'],
  },
  {
    command: 'cut',
    derivedFrom: 'cut --help (cut (GNU coreutils) 9.1)',
    options: ['-b --bytes=', '-c --characters=', '-d --delimiter=', '-f --fields=', '-n', '--complement', '-s --only-delimited', '--output-delimiter=', '-z --zero-terminated', '--help', '--version'],
    helpNoise: ['-M'],
    match: ['cut -d: -f1 /etc/passwd', 'cut -c1-10 f', 'cut --delim=, -f2 f'],
    notMatch: ['cut --pager f'],
  },
  {
    command: 'tr',
    derivedFrom: 'tr --help (tr (GNU coreutils) 9.1)',
    options: ['-c', '-C --complement', '-d --delete', '-s --squeeze-repeats', '-t --truncate-set1', '--help', '--version'],
    match: ['tr a-z A-Z', 'tr -d \'\r\'', 'tr -s \' \''],
    notMatch: ['tr --zap a b'],
  },
  {
    command: 'du',
    derivedFrom: 'du --help (du (GNU coreutils) 9.1)',
    options: ['-0 --null', '-a --all', '--apparent-size', '-B --block-size=', '-b --bytes', '-c --total', '-D --dereference-args', '-d --max-depth=', '--files0-from=', '-H', '-h --human-readable', '--inodes', '-k', '-L --dereference', '-l --count-links', '-m', '-P --no-dereference', '-S --separate-dirs', '--si', '-s --summarize', '-t --threshold=', '--time', '--time-style=', '-X --exclude-from=', '--exclude=', '-x --one-file-system', '--help', '--version'],
    match: ['du -sh .', 'du -h --max-depth=1', 'du -sh -- *'],
    notMatch: ['du --evil .'],
  },
  {
    command: 'df',
    derivedFrom: 'df --help (df (GNU coreutils) 9.1)',
    options: ['-a --all', '-B --block-size=', '-h --human-readable', '-H --si', '-i --inodes', '-k', '-l --local', '--no-sync', '--output[=]', '-P --portability', '--sync', '--total', '-t --type=', '-T --print-type', '-x --exclude-type=', '-v', '--help', '--version'],
    match: ['df -h', 'df -hT', 'df --output=source,pcent'],
    notMatch: ['df --rm'],
  },
  {
    command: 'stat',
    derivedFrom: 'stat --help (stat (GNU coreutils) 9.1)',
    options: ['-L --dereference', '-f --file-system', '--cached=', '-c --format=', '--printf=', '-t --terse', '--help', '--version'],
    match: ['stat -c %s f', 'stat --printf=\'%s\n\' f', 'stat -L f'],
    notMatch: ['stat --write f'],
  },
  {
    command: 'grep',
    derivedFrom: 'grep --help (grep (GNU grep) 3.8)',
    options: ['-E --extended-regexp', '-F --fixed-strings', '-G --basic-regexp', '-P --perl-regexp', '-e --regexp=', '-f --file=', '-i --ignore-case', '--no-ignore-case', '-w --word-regexp', '-x --line-regexp', '-z --null-data', '-s --no-messages', '-v --invert-match', '-V --version', '--help', '-m --max-count=', '-b --byte-offset', '-n --line-number', '--line-buffered', '-H --with-filename', '-h --no-filename', '--label=', '-o --only-matching', '-q --quiet', '--silent', '--binary-files=', '-a --text', '-I', '-d --directories=', '-D --devices=', '-r --recursive', '-R --dereference-recursive', '--include=', '--exclude=', '--exclude-from=', '--exclude-dir=', '-L --files-without-match', '-l --files-with-matches', '-c --count', '-T --initial-tab', '-Z --null', '-B --before-context=', '-A --after-context=', '-C --context=', '--group-separator=', '--no-group-separator', '--color[=]', '--colour[=]', '-U --binary'],
    numericOption: 'context',
    match: ['grep -rn foo .', 'grep -E \'a|b\' f', 'grep -3 foo f', 'grep --color=auto -i x f', 'grep -rl --include=\'*.ts\' foo src', 'grep -e -x f', 'grep -- --foo f'],
    notMatch: ['grep --pre=sh x f', 'grep -j x f', 'grep --no x f'],
  },
  {
    command: 'nl',
    derivedFrom: 'nl --help (nl (GNU coreutils) 9.1)',
    options: ['-b --body-numbering=', '-d --section-delimiter=', '-f --footer-numbering=', '-h --header-numbering=', '-i --line-increment=', '-l --join-blank-lines=', '-n --number-format=', '-p --no-renumber', '-s --number-separator=', '-v --starting-line-number=', '-w --number-width=', '--help', '--version'],
    match: ['nl -ba f'],
    notMatch: ['nl -Z f'],
  },
  {
    command: 'basename',
    derivedFrom: 'basename --help (basename (GNU coreutils) 9.1)',
    options: ['-a --multiple', '-s --suffix=', '-z --zero', '--help', '--version'],
    match: ['basename /a/b.txt .txt', 'basename -s .ts a.ts'],
    notMatch: ['basename -k a'],
  },
  {
    command: 'dirname',
    derivedFrom: 'dirname --help (dirname (GNU coreutils) 9.1)',
    options: ['-z --zero', '--help', '--version'],
    match: ['dirname /a/b'],
    notMatch: ['dirname -x /a'],
  },
  {
    command: 'realpath',
    derivedFrom: 'realpath --help (realpath (GNU coreutils) 9.1)',
    options: ['-e --canonicalize-existing', '-m --canonicalize-missing', '-L --logical', '-P --physical', '-q --quiet', '--relative-to=', '--relative-base=', '-s --strip', '--no-symlinks', '-z --zero', '--help', '--version'],
    match: ['realpath .', 'realpath --relative-to=. src'],
    notMatch: ['realpath --write x'],
  },
  {
    command: 'readlink',
    derivedFrom: 'readlink --help (readlink (GNU coreutils) 9.1)',
    options: ['-f --canonicalize', '-e --canonicalize-existing', '-m --canonicalize-missing', '-n --no-newline', '-q --quiet', '-s --silent', '-v --verbose', '-z --zero', '--help', '--version'],
    match: ['readlink -f x'],
    notMatch: ['readlink -X x'],
  },
  {
    command: 'comm',
    derivedFrom: 'comm --help (comm (GNU coreutils) 9.1)',
    options: ['-1', '-2', '-3', '--check-order', '--nocheck-order', '--output-delimiter=', '--total', '-z --zero-terminated', '--help', '--version'],
    match: ['comm -12 a b'],
    notMatch: ['comm -4 a b'],
  },
  {
    command: 'paste',
    derivedFrom: 'paste --help (paste (GNU coreutils) 9.1)',
    options: ['-d --delimiters=', '-s --serial', '-z --zero-terminated', '--help', '--version'],
    match: ['paste -sd, f'],
    notMatch: ['paste -x f'],
  },
  {
    command: 'tac',
    derivedFrom: 'tac --help (tac (GNU coreutils) 9.1)',
    options: ['-b --before', '-r --regex', '-s --separator=', '--help', '--version'],
    match: ['tac log'],
    notMatch: ['tac -x log'],
  },
  {
    command: 'fold',
    derivedFrom: 'fold --help (fold (GNU coreutils) 9.1)',
    options: ['-b --bytes', '-s --spaces', '-w --width=', '--help', '--version'],
    match: ['fold -w 80 f'],
    notMatch: ['fold -x f'],
  },
  {
    command: 'diff',
    derivedFrom: 'diff --help (diff (GNU diffutils) 3.8)',
    options: ['--normal', '-q --brief', '-s --report-identical-files', '-c', '-C=', '--context[=]', '-u', '-U=', '--unified[=]', '-e --ed', '-n --rcs', '-y --side-by-side', '-W --width=', '--left-column', '--suppress-common-lines', '-p --show-c-function', '-F --show-function-line=', '--label=', '-t --expand-tabs', '-T --initial-tab', '--tabsize=', '--suppress-blank-empty', '-l --paginate', '-r --recursive', '--no-dereference', '-N --new-file', '--unidirectional-new-file', '--ignore-file-name-case', '--no-ignore-file-name-case', '-x --exclude=', '-X --exclude-from=', '-S --starting-file=', '--from-file=', '--to-file=', '-i --ignore-case', '-E --ignore-tab-expansion', '-Z --ignore-trailing-space', '-b --ignore-space-change', '-w --ignore-all-space', '-B --ignore-blank-lines', '-I --ignore-matching-lines=', '-a --text', '--strip-trailing-cr', '-D --ifdef=', '--GTYPE-group-format=', '--line-format=', '--LTYPE-line-format=', '-d --minimal', '--horizon-lines=', '--speed-large-files', '--color[=]', '--palette=', '--help', '-v --version'],
    match: ['diff -u a b', 'diff -ru dir1 dir2', 'diff --color=always a b', 'diff -q a b'],
    notMatch: ['diff --output=x a b', 'diff -Y a b'],
  },
  {
    command: 'seq',
    derivedFrom: 'seq --help (seq (GNU coreutils) 9.1)',
    options: ['-f --format=', '-s --separator=', '-w --equal-width', '--help', '--version'],
    match: ['seq 1 10', 'seq -w 5'],
    notMatch: ['seq -x 3'],
  },
  {
    command: 'sha256sum',
    derivedFrom: 'sha256sum --help (sha256sum (GNU coreutils) 9.1)',
    options: ['-b --binary', '-c --check', '--tag', '-t --text', '-z --zero', '--ignore-missing', '--quiet', '--status', '--strict', '-w --warn', '--help', '--version'],
    match: ['sha256sum f', 'sha256sum -c SUMS'],
    notMatch: ['sha256sum -x f'],
  },
  {
    command: 'md5sum',
    derivedFrom: 'md5sum --help (md5sum (GNU coreutils) 9.1)',
    options: ['-b --binary', '-c --check', '--tag', '-t --text', '-z --zero', '--ignore-missing', '--quiet', '--status', '--strict', '-w --warn', '--help', '--version'],
    match: ['md5sum f'],
    notMatch: ['md5sum -x f'],
  },
  {
    command: 'od',
    derivedFrom: 'od --help (od (GNU coreutils) 9.1)',
    options: ['-A --address-radix=', '--endian=', '-j --skip-bytes=', '-N --read-bytes=', '-S=', '--strings[=]', '-t --format=', '-v --output-duplicates', '-w[=] --width[=]', '--traditional', '--help', '--version', '-a', '-b', '-c', '-d', '-f', '-i', '-l', '-o', '-s', '-x'],
    match: ['od -An -tx1 f', 'od -c f'],
    notMatch: ['od -Q f'],
  },
  {
    command: 'uname',
    derivedFrom: 'uname --help (uname (GNU coreutils) 9.1)',
    options: ['-a --all', '-s --kernel-name', '-n --nodename', '-r --kernel-release', '-v --kernel-version', '-m --machine', '-p --processor', '-i --hardware-platform', '-o --operating-system', '--help', '--version'],
    match: ['uname -a', 'uname -sr'],
    notMatch: ['uname -Z'],
  },
  {
    command: 'id',
    derivedFrom: 'id --help (id (GNU coreutils) 9.1)',
    options: ['-a', '-Z --context', '-g --group', '-G --groups', '-n --name', '-r --real', '-u --user', '-z --zero', '--help', '--version'],
    match: ['id', 'id -u', 'id -un'],
    notMatch: ['id -x'],
  },
];

export type CompiledRow = CommandRow & { syntax: Syntax; hasCapabilities: boolean; operandPattern?: RegExp };

/** Compiles the rows once; a malformed signature or capability naming no option throws, naming the row. */
export function compileRows(rows: CommandRow[]): Map<string, CompiledRow> {
  const out = new Map<string, CompiledRow>();
  rows.forEach((r, i) => {
    const where = `option table row ${i} (${r.command})`;
    let options;
    try {
      options = r.options.map(parseSpec);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    for (const id of Object.keys(r.capabilities ?? {})) {
      if (!options.some((o) => o.id === id)) throw new Error(`${where}: capability for "${id}", which is not one of its options`);
    }
    if (r.numericOption && !options.some((o) => o.id === r.numericOption)) throw new Error(`${where}: numericOption "${r.numericOption}" is not one of its options`);
    out.set(r.command, {
      ...r,
      syntax: { options, numericOption: r.numericOption },
      hasCapabilities: Object.keys(r.capabilities ?? {}).length > 0,
      ...(r.operands?.pattern ? { operandPattern: new RegExp(r.operands.pattern, 'u') } : {}),
    });
  });
  return out;
}

export const COMMAND_TABLE = compileRows(COMMAND_ROWS);

export type RowVerdict = { readOnly: true; reason: string } | { readOnly: false; reason: string; capability?: Capability };

/**
 * Whether one argv (without the program name) of a table command is a read: every word static, every option known
 * (as getopt_long parses it) and free of capabilities, operands within the row's constraints. Fails closed.
 */
export function classifyByRow(row: CompiledRow, args: (string | null)[], globbed: boolean): RowVerdict {
  if (args.some((a) => a === null)) return { readOnly: false, reason: `${row.command} with an argument whose value depends on expansion (it could be any option)` };
  const parsed = getoptLong(args as string[], row.syntax);
  if (!parsed.ok) return { readOnly: false, reason: `${row.command}: ${parsed.error} (an option the table does not know is not read-only)` };
  for (const o of parsed.options) {
    const cap = row.capabilities?.[o.id];
    if (cap) return { readOnly: false, capability: cap, reason: `${row.command} ${o.spelling} can ${CAPABILITY_TEXT[cap]}` };
  }
  // a glob may expand to a file named like an option (`-o…`): only harmless where no option carries a capability
  if (globbed && row.hasCapabilities && !(args as string[]).includes('--')) return { readOnly: false, reason: `${row.command} with a wildcard before "--": a file name could expand into an option` };
  const ops = row.operands;
  if (ops?.max !== undefined && parsed.operands.length > ops.max) return { readOnly: false, capability: 'file-write', reason: `${row.command}: ${ops.why}` };
  if (row.operandPattern && parsed.operands.some((x) => !row.operandPattern!.test(x))) return { readOnly: false, reason: `${row.command}: ${ops!.why}` };
  return { readOnly: true, reason: `read-only: ${row.command} (every option known read-only)` };
}

const CAPABILITY_TEXT: Record<Capability, string> = {
  shell: 'start a shell',
  command: 'run another program',
  'file-write': 'write files',
  upload: 'send data out',
  'library-load': 'load code',
  system: 'change the system',
};
