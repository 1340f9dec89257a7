// GNU getopt_long as the real programs run it: option specs, parsing an argv, and reading specs from `--help` text.

/** How an option takes its argument: none, required (`-w 80`, `-w80`, `--width 80`, `--width=80`) or optional (attached only). */
export type ArgKind = 'none' | 'required' | 'optional';

/** One option: its short letter and/or long name, and its argument kind. `id` is the long name, else the letter. */
export type OptionSpec = { id: string; short?: string; long?: string; arg: ArgKind; shortArg?: ArgKind };

export type ParsedOption = { id: string; value?: string; spelling: string };
export type ParseResult =
  | { ok: true; options: ParsedOption[]; operands: string[] }
  | { ok: false; error: string };

export type Syntax = {
  options: OptionSpec[];
  /** `head -5`, `tail -20`, `grep -3`: a leading `-NUM` means this option with NUM as its value. */
  numericOption?: string;
  /** GNU permutes: options may follow operands (unless POSIXLY_CORRECT). False: the first operand ends options. */
  permute?: boolean;
};

/**
 * Parses argv (without the program name) exactly as glibc getopt_long does: `--` ends options; `--name`, any
 * unambiguous prefix of a long name (an exact match wins over prefixes), `--name=value`, `--name value` for a
 * required argument; `-abc` combined short flags; `-wVALUE` / `-w VALUE` for a required short argument; an
 * optional argument only attached (`-xVALUE`, `--name=VALUE`). A lone `-` is an operand. An unknown or ambiguous
 * option, or a missing argument, is an error: the command is then not what the table knows.
 */
export function getoptLong(argv: string[], syntax: Syntax): ParseResult {
  const byShort = new Map<string, OptionSpec>();
  const byLong = new Map<string, OptionSpec>();
  for (const o of syntax.options) {
    if (o.short) byShort.set(o.short, o);
    if (o.long) byLong.set(o.long, o);
  }
  const options: ParsedOption[] = [];
  const operands: string[] = [];
  const permute = syntax.permute ?? true;
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
        if (candidates.length > 1) return { ok: false, error: `option '--${name}' is ambiguous; possibilities: ${candidates.map((c) => `'--${c.long}'`).join(' ')}` };
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
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const spec = byShort.get(c);
        if (!spec) return { ok: false, error: `invalid option -- '${c}'` };
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

/**
 * Reads option specs from a GNU-style `--help` text: lines like `  -a, --all`, `  -w, --width=COLS`,
 * `      --color[=WHEN]`, `  -n, --lines=[-]NUM`, `  -t, --field-separator=SEP`. The argument kind of a short
 * option follows its long twin ("Mandatory arguments to long options are mandatory for short options too").
 */
export function parseHelpOptions(help: string): OptionSpec[] {
  const out = new Map<string, OptionSpec>();
  for (const line of help.split('\n')) {
    if (!/^\s{1,10}-/.test(line)) continue;
    const parts = line.trim().split(/\s{2,}|\t/);
    // `-c  --format=FORMAT` (stat): a short and its long separated by two spaces
    const head = /^-[A-Za-z0-9]$/.test(parts[0]!) && parts[1]?.startsWith('--') ? `${parts[0]} ${parts[1].split(/\s/)[0]}` : parts[0]!;
    const tokens = head.split(/,\s*|\s+(?=-)/).filter((t) => t !== '' && t !== '-NUM');
    const shorts: { letter: string; arg: ArgKind | null }[] = [];
    const longs: { name: string; arg: ArgKind }[] = [];
    let valid = true;
    for (const t of tokens) {
      const l = /^--([A-Za-z0-9][\w-]*)(\[=[^\]]+\]|=\S+| [A-Z][\w-]*)?$/.exec(t);
      const sh = /^-([A-Za-z0-9?])( [A-Z][\w-]*|\[[A-Z]+\])?$/.exec(t);
      if (l) {
        const kind: ArgKind = l[2] ? (l[2].startsWith('[') ? 'optional' : 'required') : 'none';
        const same = longs.find((x) => x.name === l[1]);
        // `--check, --check=diagnose-first`: bare and with a value → the value is optional
        if (same) same.arg = same.arg !== kind ? 'optional' : kind;
        else longs.push({ name: l[1]!, arg: kind });
      } else if (sh) shorts.push({ letter: sh[1]!, arg: sh[2] ? (sh[2].startsWith('[') ? 'optional' : 'required') : null });
      else valid = false;
    }
    if (!valid || (shorts.length === 0 && longs.length === 0)) continue;
    const add = (o: OptionSpec) => {
      if (!out.has(o.id)) out.set(o.id, o);
    };
    const first = longs[0];
    // The short twin of the first long name: a bare short shares the long's argument kind; a short with its own
    // argument (`-u, -U NUM, --unified[=NUM]`) differs from the long and is an option of its own.
    shorts.forEach((sh, i) => {
      const twin = i === shorts.length - 1 && first && (sh.arg === null || sh.arg === first.arg || (sh.arg === 'optional' && first.arg === 'optional'));
      if (twin) add({ id: first.name, short: sh.letter, long: first.name, arg: first.arg, ...(sh.arg === 'optional' ? { shortArg: 'optional' as const } : {}) });
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
  const m = /^(?:-([A-Za-z0-9?])(=|\[=\])?)?\s*(?:--([A-Za-z0-9][\w-]*))?(=|\[=\])?$/.exec(sig.trim());
  if (!m || (!m[1] && !m[3])) throw new Error(`malformed option signature "${sig}" (expected e.g. "-a --all", "-w --width=", "--color[=]", "-I[=] --iso-8601[=]")`);
  const kind = (x: string | undefined): ArgKind => (x === '=' ? 'required' : x ? 'optional' : 'none');
  // a lone short's suffix is its argument kind
  if (!m[3]) return { id: m[1]!, short: m[1]!, arg: kind(m[2] ?? m[4]) };
  return { id: m[3], ...(m[1] ? { short: m[1] } : {}), long: m[3], arg: kind(m[4]), ...(m[2] ? { shortArg: kind(m[2]) } : {}) };
}
