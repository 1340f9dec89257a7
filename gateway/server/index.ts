// Downstream: the agent-facing side (stdio and Streamable HTTP), the session directory, and gateway assembly.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Hono } from 'hono';
import { createPipeline, type Ports } from '../pipeline.js';
import type { ApprovalMode, SessionContextPort } from '../ports.js';
import { Upstreams, PinStore, type Registry, type ServerSpec, type UpstreamEvent, type ValueRef } from '../upstreams/index.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Session } from './session.js';
import { serveHttp, type HttpOptions, type Identity } from './http.js';

export { Session } from './session.js';
export { isLoopbackHost } from './http.js';

export interface GatewayOptions {
  registry: Registry;
  separator: string;
  stateDir: string;
  ports: Ports;
  mode: () => ApprovalMode;
  newContext: () => SessionContextPort;
  resolveValue: (ref: ValueRef, where: string) => Promise<string>;
  createShellServer?: (spec: Extract<ServerSpec, { kind: 'shell' }>) => Server;
  maxArgumentBytes?: number;
  log: (line: string) => void;
  onSessionStart?: (s: Session) => void | Promise<void>;
  onSessionEnd?: (s: Session, reason: string) => void | Promise<void>;
}

/** The running gateway core, shared by every transport: upstreams, pipeline, sessions. */
export class Gateway {
  readonly sessions = new Map<string, Session>();
  readonly upstreams: Upstreams;
  readonly pins: PinStore;
  private readonly callTool;

  constructor(private readonly opts: GatewayOptions) {
    this.pins = new PinStore(opts.stateDir);
    this.upstreams = new Upstreams({
      registry: opts.registry,
      separator: opts.separator,
      pins: this.pins,
      resolveValue: opts.resolveValue,
      createShellServer: opts.createShellServer,
      peers: { get: (id) => this.sessions.get(id), all: () => this.sessions.values() },
      onEvent: (e) => this.onUpstreamEvent(e),
      onDefinitionChanged: (e) => {
        opts.log(`tool definition changed: ${e.tool} (not callable until \`tollgate tools approve ${e.tool}\`)`);
        opts.ports.audit
          .record({ name: 'tollgate.tool_definition_changed', server: e.server, tool: e.tool, sessionId: e.sessionId, previousHash: e.previousHash, currentHash: e.currentHash })
          .catch((err) => opts.log(`audit: ${(err as Error).message}`));
      },
    });
    this.upstreams.onListChanged((kind, sessionId) => {
      const method = `notifications/${kind}/list_changed`;
      const targets = sessionId ? [this.sessions.get(sessionId)].filter((s): s is Session => !!s) : [...this.sessions.values()];
      for (const s of targets) s.notify({ method });
    });
    this.callTool = createPipeline({ upstreams: this.upstreams, ports: opts.ports, maxArgumentBytes: opts.maxArgumentBytes ?? 1024 * 1024 });
  }

  private onUpstreamEvent(e: UpstreamEvent): void {
    const who = e.sessionId ? `${e.server} (session ${e.sessionId.slice(0, 8)})` : e.server;
    if (e.event === 'failed' || e.event === 'exited') this.opts.log(`upstream ${who} ${e.event}: ${e.error ?? ''}`);
    else if (e.event === 'restarted' || e.event === 'reinitialized') this.opts.log(`upstream ${who} ${e.event}${e.attempt ? ` (attempt ${e.attempt})` : ''}`);
    this.opts.ports.audit
      .record({ name: 'tollgate.upstream', server: e.server, sessionId: e.sessionId, event: e.event, pid: e.pid, exitCode: e.exitCode, attempt: e.attempt, error: e.error })
      .catch((err) => this.opts.log(`audit: ${(err as Error).message}`));
  }

  async start(): Promise<void> {
    await this.upstreams.start();
    for (const s of this.upstreams.status()) {
      this.opts.log(s.state === 'ready' ? `upstream ${s.name} (${s.kind}): ${s.tools} tools` : `upstream ${s.name} (${s.kind}) is ${s.state}: ${s.error ?? ''}`);
    }
  }

  newSession(transport: 'stdio' | 'http', who: Identity): Session {
    const s = new Session(transport, who.identity, who.groups, {
      upstreams: this.upstreams,
      callTool: this.callTool,
      mediate: this.callTool.mediate,
      newContext: this.opts.newContext,
      mode: this.opts.mode,
      onInitialized: (sess) => void this.opts.onSessionStart?.(sess),
    });
    s.requestedMode = who.mode;
    s.requestedChannels = who.channels;
    this.sessions.set(s.id, s);
    return s;
  }

  async endSession(s: Session, reason: string): Promise<void> {
    if (!this.sessions.delete(s.id)) return;
    await this.opts.onSessionEnd?.(s, reason);
    await this.upstreams.closeSession(s.id);
    await s.close();
  }

  /** Forgets a session that never opened (its initialize was refused): nothing to journal, nothing to end. */
  async discardSession(s: Session): Promise<void> {
    if (!this.sessions.delete(s.id)) return;
    await this.upstreams.closeSession(s.id);
    await s.close();
  }

  async serveStdio(who: Identity): Promise<Session> {
    const s = this.newSession('stdio', who);
    const transport = new StdioServerTransport();
    transport.onclose = () => void this.endSession(s, 'closed');
    await s.connect(transport);
    return s;
  }

  async serveHttp(opts: Omit<HttpOptions, 'createSession' | 'onSessionEnd' | 'discardSession'> & { mount?: (app: Hono) => void }) {
    return serveHttp({
      ...opts,
      createSession: (who) => this.newSession('http', who),
      onSessionEnd: (s, reason) => this.endSession(s, reason),
      discardSession: (s) => this.discardSession(s),
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.sessions.values()].map((s) => this.endSession(s, 'shutdown')));
    await this.upstreams.close();
  }
}
