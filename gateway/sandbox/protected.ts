// Which paths under a writable root hold host-executed config: a pure predicate the staged-write apply step asks.
import path from 'node:path';

/**
 * Names that make a path protected at any depth under a root, file or directory: the host's own git, shell prompt,
 * direnv, editors, dev-container tooling and hook managers read and run what these hold, outside the sandbox.
 * `.git` covers repositories and `gitdir:` files alike; `.gitattributes` names filter/diff drivers; `.gitmodules`
 * submodule commands.
 */
export const HOST_EXECUTED_NAMES = ['.git', '.gitattributes', '.gitmodules', '.hg', '.jj', '.envrc', '.vscode', '.idea', '.devcontainer', '.husky'];

// Code points HFS+ ignores in names (git's is_hfs_dotgit list): `.g\u200cit` is `.git` on macOS.
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * A name as a case-insensitive host file system would see it: lower case, HFS+-ignored code points and Windows'
 * trailing dots and spaces dropped. Linux itself is case-sensitive, but a root may live on a case-insensitive mount
 * (a shared folder from macOS or Windows, an ext4 casefold directory) where `.GIT` is `.git`; refusing every
 * variant costs nothing on Linux.
 */
export function foldName(name: string): string {
  return name.normalize('NFC').replace(HFS_IGNORED, '').toLowerCase().replace(/[. ]+$/, '');
}

export interface ProtectionOptions {
  /** Protected at any depth; default HOST_EXECUTED_NAMES. */
  names?: readonly string[];
  /** Relative paths (`.git/hooks`, `secrets`) protected wherever their components appear in sequence. */
  patterns?: readonly string[];
  /** Root-relative paths protected with everything under them (absolute protected paths inside this root). */
  prefixes?: readonly string[];
}

export type Protection = (rel: string) => string | undefined;

/**
 * Why a root-relative path is protected, or undefined. A path is protected when any component is a protected name
 * (or its NTFS 8.3 short form, `GIT~1`), when a pattern's components appear in it in sequence, or when it lies at or
 * under a prefix.
 */
export function protection(opts: ProtectionOptions = {}): Protection {
  const names = new Map((opts.names ?? HOST_EXECUTED_NAMES).map((n) => [foldName(n), n]));
  const shortNames = new Map([...names].map(([f, n]) => [`${f.replace(/^\./, '').slice(0, 6)}~`, n]));
  const patterns = (opts.patterns ?? []).map((p) => ({ p, parts: split(p).map(foldName) })).filter((x) => x.parts.length > 0);
  const prefixes = (opts.prefixes ?? []).map((p) => ({ p, parts: split(p).map(foldName) }));
  return (rel) => {
    const parts = split(rel).map(foldName);
    for (const c of parts) {
      const n = names.get(c) ?? (/~\d+$/.test(c) ? shortNames.get(c.replace(/\d+$/, '')) : undefined);
      if (n) return `a ${n} path component (host-executed config)`;
    }
    for (const { p, parts: pp } of patterns) {
      for (let i = 0; i + pp.length <= parts.length; i++) if (pp.every((x, j) => parts[i + j] === x)) return `it matches the protected path ${p}`;
    }
    for (const { p, parts: pp } of prefixes) {
      if (pp.length <= parts.length && pp.every((x, j) => parts[j] === x)) return `it is the protected path ${p}${pp.length < parts.length ? ' or under it' : ''}`;
    }
    return undefined;
  };
}

function split(p: string): string[] {
  return p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
}

/** Lexical resolution of a symlink's target against the link's directory (both relative to root when inside it). */
export function symlinkTargetRel(linkRel: string, target: string, root: string): string | undefined {
  const abs = path.resolve(root, path.dirname(linkRel), target);
  const rel = path.relative(root, abs);
  return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel;
}
