// What agent clients accept: tool names they prefix with their own namespace and cut off (or reject) past 64 chars. Pure.

/** The prefixes clients put before Tollgate's tool names, for a client-side server entry named `tollgate`. */
export const CLIENT_TOOL_PREFIXES: readonly { client: string; prefix: (server: string) => string }[] = [
  { client: 'Claude Code', prefix: (s) => `mcp__${s}__` },
  { client: 'VS Code / Gemini CLI', prefix: (s) => `mcp_${s}_` },
];

/** OpenAI and Anthropic function names are limited to 64 characters. */
export const MAX_TOOL_NAME = 64;

/**
 * One warning per tool whose namespaced name (`<prefix><separator><tool>`, as Tollgate lists it) would exceed 64
 * characters once a client adds its own prefix — such tools are renamed, truncated or dropped by the client.
 */
export function toolNameWarnings(names: readonly string[], clientServerName = 'tollgate'): string[] {
  const out: string[] = [];
  for (const name of names) {
    const worst = CLIENT_TOOL_PREFIXES.map((p) => ({ ...p, full: `${p.prefix(clientServerName)}${name}` })).sort((a, b) => b.full.length - a.full.length)[0]!;
    if (worst.full.length > MAX_TOOL_NAME) {
      out.push(`tool "${name}" is ${name.length} characters; ${worst.client} would call it "${worst.full}" (${worst.full.length} > ${MAX_TOOL_NAME}) and may truncate or drop it — shorten the server's prefix in servers.json or the tool separator`);
    }
  }
  return out;
}
