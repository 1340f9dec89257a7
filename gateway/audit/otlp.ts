// OTLP export: journal records as OpenTelemetry log events, batched, gzip'ed, failures counted.
import { SeverityNumber, type AnyValue, type LogAttributes } from '@opentelemetry/api-logs';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { canonicalJson } from './chain.js';

export { parseHeaderList, resolveOtlpTarget, type OtlpOptions, type OtlpTarget } from './otlp-target.js';
import type { OtlpTarget } from './otlp-target.js';

const COMMON_ATTRS: Record<string, string> = {
  sessionId: 'mcp.session.id',
  callId: 'gen_ai.tool.call.id',
  tool: 'gen_ai.tool.name',
  method: 'mcp.method.name',
  identity: 'tollgate.identity',
  server: 'tollgate.server',
  seq: 'tollgate.seq',
  hash: 'tollgate.hash',
};
const SKIP = new Set(['name', 'time', 'prev']);
// structured payloads travel as one JSON string so SIEMs do not explode them into thousands of keys
const AS_JSON = new Set(['arguments', 'output']);

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function attrValue(v: unknown): AnyValue | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return canonicalJson(v);
}

/** A journal record as an OTLP log record: eventName, timestamp, severity, a one-line body, flat attributes. */
export function toLogRecord(record: Record<string, unknown>): {
  eventName: string; timestamp: Date; severityNumber: SeverityNumber; severityText: string; body: string; attributes: LogAttributes;
} {
  const attributes: LogAttributes = {};
  for (const [k, v] of Object.entries(record)) {
    if (SKIP.has(k) || v === undefined) continue;
    if (k in COMMON_ATTRS) attributes[COMMON_ATTRS[k]!] = attrValue(v);
    else if (record.name === 'tollgate.network_decision' && (k === 'host' || k === 'port' || k === 'method')) {
      attributes[k === 'host' ? 'server.address' : k === 'port' ? 'server.port' : 'http.request.method'] = attrValue(v);
    } else if (AS_JSON.has(k)) attributes[`tollgate.${k}`] = canonicalJson(v);
    else if (k === 'capabilities' && v && typeof v === 'object') {
      for (const [ck, cv] of Object.entries(v)) attributes[`tollgate.capabilities.${snake(ck)}`] = attrValue(cv);
    } else attributes[`tollgate.${snake(k)}`] = attrValue(v);
  }
  const warn = record.decision === 'denied' || record.decision === 'deny' || record.failure !== undefined
    || record.success === false || record.event === 'failed';
  return {
    eventName: String(record.name),
    timestamp: new Date(String(record.time)),
    severityNumber: warn ? SeverityNumber.WARN : SeverityNumber.INFO,
    severityText: warn ? 'WARN' : 'INFO',
    body: summary(record),
    attributes,
  };
}

function summary(r: Record<string, unknown>): string {
  const who = [r.tool, r.callId].filter(Boolean).join(' ');
  const what = [r.decision, r.source, r.event, r.outcome, r.reason].filter((x) => typeof x === 'string').join(' ');
  return [String(r.name).replace(/^tollgate\./, ''), who, what].filter(Boolean).join(' · ');
}

export interface OtlpSink {
  emit(record: Record<string, unknown>): void;
  counts(): { exported: number; failed: number };
  close(timeoutMs?: number): Promise<void>;
}

/** Never throws after construction and never blocks a caller: failures only move counters. */
/** `instanceId` becomes `service.instance.id`: with many gateway processes on one data dir, (instance, seq) names a record. */
export function openOtlpSink(opts: { target: OtlpTarget; serviceVersion: string; instanceId?: string; scheduledDelayMillis?: number }): OtlpSink {
  const inner = new OTLPLogExporter({
    url: opts.target.url,
    headers: opts.target.headers,
    compression: 'gzip' as never, // CompressionAlgorithm.GZIP; the enum lives in a package we do not import
    timeoutMillis: 10_000,
  });
  let exported = 0;
  let failed = 0;
  let emitted = 0;
  const counting: LogRecordExporter = {
    export(items: ReadableLogRecord[], done) {
      try {
        inner.export(items as never, (result) => {
          if (result.code === 0) exported += items.length;
          else failed += items.length;
          done(result);
        });
      } catch (e) {
        failed += items.length;
        done({ code: 1, error: e as Error });
      }
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'tollgate', 'service.version': opts.serviceVersion, ...(opts.instanceId ? { 'service.instance.id': opts.instanceId } : {}) }),
    processors: [new BatchLogRecordProcessor({
      exporter: counting,
      maxQueueSize: 16_384,
      maxExportBatchSize: 512,
      scheduledDelayMillis: opts.scheduledDelayMillis ?? 1000,
      exportTimeoutMillis: 15_000,
    })],
  });
  const logger = provider.getLogger('tollgate.audit', opts.serviceVersion);
  let closed = false;
  return {
    emit(record) {
      if (closed) return;
      try {
        logger.emit(toLogRecord(record));
        emitted += 1;
      } catch {
        failed += 1;
      }
    },
    counts: () => ({ exported, failed }),
    async close(timeoutMs = 5000) {
      if (closed) return;
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        provider.shutdown().catch(() => undefined),
        new Promise((r) => { timer = setTimeout(r, timeoutMs); }),
      ]);
      clearTimeout(timer);
      // records the batch queue dropped (full) or still held at the deadline were never delivered
      const unaccounted = emitted - exported - failed;
      if (unaccounted > 0) failed += unaccounted;
    },
  };
}
