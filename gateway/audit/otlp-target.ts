// Where OTLP export goes: options first, then the standard OTEL_EXPORTER_OTLP_* variables (no SDK loaded to decide).
export interface OtlpOptions {
  endpoint?: string;
  headers?: Record<string, string>;
  enabled?: boolean;
}

export interface OtlpTarget {
  url: string;
  headers: Record<string, string>;
}

/** Options first, then the standard OTEL_EXPORTER_OTLP_* variables; undefined means export is off. */
export function resolveOtlpTarget(opts: OtlpOptions | undefined, env: NodeJS.ProcessEnv): OtlpTarget | undefined {
  if (opts?.enabled === false) return undefined;
  let url = opts?.endpoint;
  if (!url && env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) url = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
  if (!url && env.OTEL_EXPORTER_OTLP_ENDPOINT) url = `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/logs`;
  if (!url) return undefined;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new Error('audit.otlp.endpoint: expected an http(s) URL such as "http://127.0.0.1:4318/v1/logs"');
  }
  const headers = {
    ...parseHeaderList(env.OTEL_EXPORTER_OTLP_HEADERS),
    ...parseHeaderList(env.OTEL_EXPORTER_OTLP_LOGS_HEADERS),
    ...(opts?.headers ?? {}),
  };
  return { url, headers };
}

/** `k1=v1,k2=v2` with URL-encoded values, as the OTLP exporter spec defines it. */
export function parseHeaderList(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = decodeURIComponent(part.slice(0, eq).trim());
    const v = decodeURIComponent(part.slice(eq + 1).trim());
    if (k) out[k] = v;
  }
  return out;
}

