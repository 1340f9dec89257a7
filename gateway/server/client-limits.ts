// What agent clients accept: tool names they prefix with their own namespace and cut off (or reject) past 64 chars. Pure.

/** The names clients give Tollgate's tools, for a client-side server entry named `tollgate` (measured or documented). */
export const CLIENT_TOOL_PREFIXES: readonly { client: string; prefix: (server: string) => string }[] = [
  { client: 'Claude Code', prefix: (s) => `mcp__${s}__` },
  { client: 'VS Code / Gemini CLI', prefix: (s) => `mcp_${s}_` },
  // Codex 0.171 sends an MCP server's tools to the model inside a `mcp__<server>` namespace, each under its own name
  { client: 'Codex CLI', prefix: () => '' },
];

/** OpenAI and Anthropic function names are limited to 64 characters. */
export const MAX_TOOL_NAME = 64;

/**
 * One warning per tool whose namespaced name (`<prefix><separator><tool>`, as Tollgate lists it) would exceed 64
 * characters once a client adds its own prefix — such tools are renamed, truncated or dropped by that client. The
 * warning names every known client affected, longest name first.
 */
export function toolNameWarnings(names: readonly string[], clientServerName = 'tollgate'): string[] {
  const out: string[] = [];
  for (const name of names) {
    const over = CLIENT_TOOL_PREFIXES.map((p) => ({ ...p, full: `${p.prefix(clientServerName)}${name}` }))
      .filter((p) => p.full.length > MAX_TOOL_NAME)
      .sort((a, b) => b.full.length - a.full.length);
    if (over.length) {
      const who = over.map((p) => `${p.client} would call it "${p.full}" (${p.full.length} > ${MAX_TOOL_NAME})`).join('; ');
      out.push(`tool "${name}" is ${name.length} characters; ${who} — such a client may truncate or drop it: shorten the server's prefix in servers.json or the tool separator`);
    }
  }
  return out;
}
