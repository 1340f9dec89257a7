// Roots an upstream may see: never wider than the admin configured (an agent's roots cannot widen its own reach).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { RootsPolicy, ServerSpec } from './registry.js';

type Root = { uri: string; name?: string };

const inside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

export function rootsPolicyOf(spec: ServerSpec): RootsPolicy {
  return spec.kind === 'shell' ? { mode: 'none', dirs: [] } : spec.roots;
}

/** The roots capability to offer an upstream: only when there is something it may be told. */
export function rootsCapability(policy: RootsPolicy, peerHasRoots: boolean): ClientCapabilities['roots'] | undefined {
  if (policy.dirs.length === 0) return undefined;
  if (policy.mode === 'config') return {};
  if (policy.mode === 'client' && peerHasRoots) return { listChanged: true };
  return undefined;
}

export const configuredRoots = (policy: RootsPolicy): Root[] => policy.dirs.map((d) => ({ uri: pathToFileURL(d).href, name: path.basename(d) }));

/**
 * The agent's roots inside the configured ones: a client root inside a configured directory is kept; one that holds
 * a configured directory is narrowed to it; anything else (other paths, non-file URIs) is dropped. Pure.
 */
export function intersectRoots(client: unknown, policy: RootsPolicy): Root[] {
  const list = Array.isArray((client as { roots?: unknown })?.roots) ? ((client as { roots: unknown[] }).roots) : [];
  const out = new Map<string, Root>();
  for (const r of list) {
    const uri = (r as { uri?: unknown })?.uri;
    if (typeof uri !== 'string' || !uri.startsWith('file://')) continue;
    let p: string;
    try {
      p = path.resolve(fileURLToPath(uri));
    } catch {
      continue;
    }
    for (const d of policy.dirs) {
      const kept = inside(p, d) ? p : inside(d, p) ? d : undefined;
      if (kept) out.set(kept, { uri: pathToFileURL(kept).href, name: path.basename(kept) });
    }
  }
  return [...out.values()];
}
