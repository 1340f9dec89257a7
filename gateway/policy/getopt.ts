// GNU getopt_long as the real programs run it: option specs, parsing an argv, and reading specs from `--help` text.

/** How an option takes its argument: none, required (`-w 80`, `-w80`, `--width 80`, `--width=80`) or optional (attached only). */
export type ArgKind = 'none' | 'required' | 'optional';

/** One option: its short letter and/or long name, and its argument kind. `id` is the long name, else the letter. */
export type OptionSpec = { id: string; short?: string; long?: string; arg: ArgKind; shortArg?: ArgKind };

export type ParsedOption = { id: string; value?: string; spelling: string };
export type ParseResult =
  | { ok: true; options: ParsedOption[]; operands: string[] }
  | { ok: false; error: string; /** an ambiguous prefix: the options it could mean */ candidates?: string[] };

export type Syntax = {
  options: OptionSpec[];
  /** `head -5`, `tail -20`, `grep -3`: a leading `-NUM` means this option with NUM as its value. */
  numericOption?: string;
  /** GNU permutes: options may follow operands (unless POSIXLY_CORRECT). False: the first operand ends options. */
  permute?: boolean;
  /**
   * How a word of short options is read. `gnu` (default): `-abc` combined flags, a value attached or the next word.
   * `following` (tar's old style, tree): each letter that takes a value takes the next word, in order, so no letter
   * hides behind another's value. `single` (xxd): one option per word, named by its first letter; the rest of the
   * word is that option's value, or ignored for a flag.
   */
  clusters?: 'gnu' | 'following' | 'single';
  /** tar: a first word without a dash is a cluster of option letters (`tar tzf a.tgz`), read the `following` way. */
  oldStyle?: boolean;
};

const INDEXES = new WeakMap<OptionSpec[], { byShort: Map<string, OptionSpec>; byLong: Map<string, OptionSpec> }>();
/** The specs by short letter and long name, built once per option list (tables are compiled once and reused). */
function indexOf(options: OptionSpec[]) {
  let ix = INDEXES.get(options);
  if (!ix) {
    ix = { byShort: new Map(), byLong: new Map() };
    for (const o of options) {
      if (o.short) ix.byShort.set(o.short, o);
      if (o.long) ix.byLong.set(o.long, o);
    }
    INDEXES.set(options, ix);
  }
  return ix;
}

/**
 * Parses argv (without the program name) exactly as glibc getopt_long does: `--` ends options; `--name`, any
 * unambiguous prefix of a long name (an exact match wins over prefixes), `--name=value`, `--name value` for a
 * required argument; `-abc` combined short flags; `-wVALUE` / `-w VALUE` for a required short argument; an
 * optional argument only attached (`-xVALUE`, `--name=VALUE`). A lone `-` is an operand. An unknown or ambiguous
 * option, or a missing argument, is an error: the command is then not what the table knows.
 */
export function getoptLong(argv: string[], syntax: Syntax): ParseResult {
  const { byShort, byLong } = indexOf(syntax.options);
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  const permute = syntax.permute ?? true;
  const clusters = syntax.clusters ?? 'gnu';
  const oldCluster = syntax.oldStyle && argv.length > 0 && argv[0] !== '' && !argv[0]!.startsWith('-') ? `-${argv[0]}` : undefined;
  if (oldCluster !== undefined) argv = [oldCluster, ...argv.slice(1)];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      let spec = byLong.get(name);
      if (!spec) {
        const candidates = [...byLong.values()].filter((o) => o.long!.startsWith(name));
        // glibc accepts an ambiguous prefix when every candidate is the same option (never true here: one spec per name)
        if (candidates.length === 0) return { ok: false, error: `unrecognized option '--${name}'` };
        if (candidates.length > 1) return { ok: false, error: `option '--${name}' is ambiguous; possibilities: ${candidates.map((c) => `'--${c.long}'`).join(' ')}`, candidates: candidates.map((c) => c.id) };
        spec = candidates[0]!;
      }
      if (eq >= 0) {
        if (spec.arg === 'none') return { ok: false, error: `option '--${spec.long}' doesn't allow an argument` };
        options.push({ id: spec.id, value: a.slice(eq + 1), spelling: a });
      } else if (spec.arg === 'required') {
        if (i + 1 >= argv.length) return { ok: false, error: `option '--${spec.long}' requires an argument` };
        options.push({ id: spec.id, value: argv[++i]!, spelling: `${a} ${argv[i]}` });
      } else options.push({ id: spec.id, spelling: a });
      continue;
    }
    if (a.startsWith('-') && a !== '-') {
      if (syntax.numericOption && /^-\d+$/.test(a)) {
        options.push({ id: syntax.numericOption, value: a.slice(1), spelling: a });
        continue;
      }
      if (clusters === 'single') {
        const c = a[1]!;
        const spec = byShort.get(c);
        if (!spec) return { ok: false, error: `invalid option -- '${c}'` };
        if (spec.arg === 'none') options.push({ id: spec.id, spelling: a });
        else if (a.length > 2) options.push({ id: spec.id, value: a.slice(2), spelling: a });
        else if (spec.arg === 'required') {
          if (i + 1 >= argv.length) return { ok: false, error: `option requires an argument -- '${c}'` };
          options.push({ id: spec.id, value: argv[++i]!, spelling: `${a} ${argv[i]}` });
        } else options.push({ id: spec.id, spelling: a });
        continue;
      }
      const following = clusters === 'following' || (oldCluster !== undefined && i === 0 && a === oldCluster);
      let next = i;
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const spec = byShort.get(c);
        if (!spec) return { ok: false, error: `invalid option -- '${c}'` };
        if (following) {
          const kind = spec.shortArg ?? spec.arg;
          if (kind !== 'required') options.push({ id: spec.id, spelling: `-${c}` });
          else {
            if (next + 1 >= argv.length) return { ok: false, error: `option requires an argument -- '${c}'` };
            options.push({ id: spec.id, value: argv[++next]!, spelling: `-${c} ${argv[next]}` });
          }
          if (j === a.length - 1) i = next;
          continue;
        }
        // an optional argument is attached-only and long-only in the tables: its short twin takes none (stricter —
        // `-xo` is read as -x -o, so the -o is seen)
        const kind = spec.shortArg ?? (spec.arg === 'optional' && spec.long ? 'none' : spec.arg);
        if (kind === 'none') {
          options.push({ id: spec.id, spelling: `-${c}` });
          continue;
        }
        const rest = a.slice(j + 1);
        if (rest !== '') options.push({ id: spec.id, value: rest, spelling: `-${c}${rest}` });
        else if (kind === 'required') {
          if (i + 1 >= argv.length) return { ok: false, error: `option requires an argument -- '${c}'` };
          options.push({ id: spec.id, value: argv[++i]!, spelling: `-${c} ${argv[i]}` });
        } else options.push({ id: spec.id, spelling: `-${c}` });
        break;
      }
      continue;
    }
    operands.push(a);
    if (!permute) {
      operands.push(...argv.slice(i + 1));
      break;
    }
  }
  return { ok: true, options, operands };
}

/** One option token of a help line: `-a`, `-w COLS`, `-d[file]`, `--width=COLS`, `--color[=WHEN]`, `--pre <COMMAND>`. */
const HELP_TOKEN = /^(--[A-Za-z0-9][\w-]*|-[A-Za-z0-9?.#:])(\[=[^\]]*\]|=<[^>]*>(?:\.\.\.)?|=[^\s,]+|\[[^\]\s]+\]| <[^>]+>(?:\.\.\.)?| \[\S*| [A-Za-z'#][^\s,]*|\.\.\.)?$/;
/** The same, found at the start of a line whose description follows after one space (curl: `--alt-svc <file name> Enable`). */
const HELP_LEAD = /^(--[A-Za-z0-9][\w-]*|-[A-Za-z0-9?.#:])(\[=[^\]]*\]|=<[^>]*>|=[^\s,]+|\[[^\]\s]+\]| <[^>]+>(?:\.\.\.)?| \[\S*| [A-Z#][A-Z0-9_-]*(?=\s|,|$)|\.\.\.)?/;

function helpTokens(line: string): string[] | null {
  const parts = line.trim().split(/\s{2,}|\t/).filter((p) => p !== '');
  // `-e,  --execute=CMD` (wget): a comma then a wide gap; `-c  --format=FORMAT` (stat), `-f progfile\t--file=progfile` (gawk):
  // a short and its long separated by a gap
  let head = parts[0]!;
  if (parts[1]?.startsWith('--') && (head.endsWith(',') || HELP_TOKEN.test(head) && head.startsWith('-') && !head.startsWith('--'))) {
    head = `${head.replace(/,$/, '')}, ${parts[1].split(/,?\s+(?!<)/)[0]!.replace(/,$/, '')}`;
  }
  const tokens = head.split(/,\s*|\s+(?=-)/).filter((t) => t !== '' && t !== '-NUM');
  if (tokens.every((t) => HELP_TOKEN.test(t))) return tokens;
  // the description starts after one space: read option tokens from the start until something else
  const out: string[] = [];
  let rest = line.trim();
  const indent = line.length - line.trimStart().length;
  for (;;) {
    const m = HELP_LEAD.exec(rest);
    if (!m) return out.length ? out : null;
    out.push(m[0]);
    rest = rest.slice(m[0].length);
    const sep = /^(,\s*| (?=-))/.exec(rest);
    // only where a capitalised description follows: prose that mentions an option (`--glob is used`) is not a listing
    if (!sep) return rest === '' || /^\s+[A-Z]/.test(rest) || (/^\s+\S/.test(rest) && indent <= 8) ? out : null;
    rest = rest.slice(sep[0].length);
  }
}

/**
 * Reads option specs from a `--help` text (`shortTakesOptional`: git's `-h`, where `-U, --unified[=<n>]` means `-U5`): GNU lines like `  -a, --all`, `  -w, --width=COLS`,
 * `      --color[=WHEN]`, `  -n, --lines=[-]NUM`, `  -t, --field-separator=SEP`; clap's `-g, --glob <GLOB>...`;
 * curl's `-o, --output <file> Write`; gawk's `-f progfile\t\t--file=progfile`; tree's and xxd's `-L level`. The
 * argument kind of a short option follows its long twin ("Mandatory arguments to long options are mandatory for
 * short options too").
 */
export function parseHelpOptions(help: string, opts: { shortTakesOptional?: boolean } = {}): OptionSpec[] {
  const out = new Map<string, OptionSpec>();
  for (const line of help.split('\n')) {
    if (!/^\s{1,10}-/.test(line)) continue;
    const tokens = helpTokens(line);
    if (!tokens) continue;
    const shorts: { letter: string; arg: ArgKind | null }[] = [];
    const longs: { name: string; arg: ArgKind }[] = [];
    for (const t of tokens) {
      const m = HELP_TOKEN.exec(t)!;
      const arg = m[2] === undefined || m[2] === '...' ? undefined : m[2];
      if (m[1]!.startsWith('--')) {
        const kind: ArgKind = arg ? (arg.startsWith('[') ? 'optional' : 'required') : 'none';
        const name = m[1]!.slice(2);
        const same = longs.find((x) => x.name === name);
        // `--check, --check=diagnose-first`: bare and with a value → the value is optional
        if (same) same.arg = same.arg !== kind ? 'optional' : kind;
        else longs.push({ name, arg: kind });
      } else shorts.push({ letter: m[1]!.slice(1), arg: arg ? (arg.startsWith('[') ? 'optional' : 'required') : null });
    }
    if (shorts.length === 0 && longs.length === 0) continue;
    const add = (o: OptionSpec) => {
      if (!out.has(o.id)) out.set(o.id, o);
    };
    const first = longs[0];
    // The short twin of the first long name: a bare short shares the long's argument kind; a short with its own
    // argument (`-u, -U NUM, --unified[=NUM]`) differs from the long and is an option of its own.
    shorts.forEach((sh, i) => {
      const twin = i === shorts.length - 1 && first && (sh.arg === null || sh.arg === first.arg || (sh.arg === 'optional' && first.arg === 'optional'));
      // git's parse-options gives a short twin of an optional long the rest of its word (`-U5`, `-uno`)
      const shortOptional = sh.arg === 'optional' || (opts.shortTakesOptional && first?.arg === 'optional');
      if (twin) add({ id: first.name, short: sh.letter, long: first.name, arg: first.arg, ...(shortOptional ? { shortArg: 'optional' as const } : {}) });
      else add({ id: sh.letter, short: sh.letter, arg: sh.arg ?? (first && i === shorts.length - 1 ? first.arg : 'none') });
    });
    longs.forEach((l, i) => {
      if (i === 0 && out.get(l.name)?.long === l.name) return;
      add({ id: l.name, long: l.name, arg: l.arg });
    });
  }
  return [...out.values()];
}

/** A compact signature of specs, one per option: `-a --all`, `-w --width=`, `--color[=]`, `-k=` — the table's data format. */
export function formatSpec(o: OptionSpec): string {
  const suffix = (k: ArgKind) => (k === 'required' ? '=' : k === 'optional' ? '[=]' : '');
  const short = o.short ? `-${o.short}${o.shortArg ? suffix(o.shortArg) : ''}` : '';
  return [short, o.long ? `--${o.long}` : ''].filter(Boolean).join(' ') + suffix(o.arg);
}

/** Inverse of formatSpec: `"-w --width="` → spec. Throws on a malformed signature (tables are checked at load). */
export function parseSpec(sig: string): OptionSpec {
  const m = /^(?:-([A-Za-z0-9?.#:])(=|\[=\])?)?\s*(?:--([A-Za-z0-9][\w-]*))?(=|\[=\])?$/.exec(sig.trim());
  if (!m || (!m[1] && !m[3])) throw new Error(`malformed option signature "${sig}" (expected e.g. "-a --all", "-w --width=", "--color[=]", "-I[=] --iso-8601[=]")`);
  const kind = (x: string | undefined): ArgKind => (x === '=' ? 'required' : x ? 'optional' : 'none');
  // a lone short's suffix is its argument kind
  if (!m[3]) return { id: m[1]!, short: m[1]!, arg: kind(m[2] ?? m[4]) };
  return { id: m[3], ...(m[1] ? { short: m[1] } : {}), long: m[3], arg: kind(m[4]), ...(m[2] ? { shortArg: kind(m[2]) } : {}) };
}
