// What sandboxed commands never see: Tollgate's own files, keyring sockets and the usual credential stores.
import path from 'node:path';

/** Credential stores hidden by default (`~/` is the gateway user's home); `sandbox.denyRead` adds to these. */
export const DEFAULT_DENY_READ = [
  '~/.ssh', '~/.aws', '~/.gnupg', '~/.config/gcloud', '~/.azure', '~/.kube', '~/.docker/config.json', '~/.netrc', '~/.npmrc',
  '~/.pypirc', '~/.git-credentials', '~/.local/share/keyrings', '/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/sudoers.d', '/root',
];

export interface DenyReadInput {
  home: string;
  configDir: string;
  dataDir: string;
  /** Absolute workspace roots: a hidden directory that holds one keeps the root itself visible. */
  roots: string[];
  /** Entries from `sandbox.denyRead` / the shell entry (absolute or `~/…`). */
  extra: readonly string[];
  /** The gateway's environment: its runtime dir and D-Bus session socket are hidden too. */
  env: Record<string, string | undefined>;
  /** Never hidden (the node binary running the egress bridge). */
  keep?: string[];
}

export function expandHome(p: string, home: string): string {
  return p === '~' ? home : p.startsWith('~/') ? path.join(home, p.slice(2)) : p;
}

/**
 * The deny-read list as absolute paths. The config dir is hidden whole (its roots are bound back on top) unless it
 * is `/`, holds the node binary, or lies inside a root — then its Tollgate files are hidden one by one.
 */
export function denyReadList(i: DenyReadInput): string[] {
  const inside = (c: string, p: string) => {
    const rel = path.relative(p, c);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  const out = [...DEFAULT_DENY_READ, ...i.extra].map((p) => expandHome(p, i.home));
  out.push(path.resolve(i.dataDir));
  const cfg = path.resolve(i.configDir);
  const keep = i.keep ?? [];
  if (cfg !== '/' && !i.roots.some((r) => inside(cfg, r)) && !keep.some((k) => inside(k, cfg))) out.push(cfg);
  else out.push(...['tollgate.json', 'servers.json', 'requirements.json', '.env'].map((f) => path.join(cfg, f)));
  const runtime = i.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) out.push(runtime);
  const bus = /unix:path=([^,;]+)/.exec(i.env.DBUS_SESSION_BUS_ADDRESS ?? '')?.[1];
  if (bus && path.isAbsolute(bus)) out.push(bus);
  return [...new Set(out.map((p) => path.resolve(p)))].filter((p) => p !== '/' && !keep.some((k) => inside(k, p)));
}
