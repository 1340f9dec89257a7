// jsonWhenAlone: a POST's SSE stream becomes one JSON response only when it carries nothing but that response, quickly.
import { describe, expect, it } from 'vitest';
import { jsonWhenAlone } from '../../gateway/server/json-first.js';

const enc = new TextEncoder();
const PRIMING = 'id: s_1\nretry: 1000\ndata: \n\n';
const event = (m: unknown, id = 's_2') => `event: message\nid: ${id}\ndata: ${JSON.stringify(m)}\n\n`;
const RESULT = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'ok' }] } };
const PROGRESS = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } };

/** An SSE Response whose chunks are pushed by the test, like the SDK transport's stream. */
function sse(headers: Record<string, string> = {}) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled: unknown = 'not cancelled';
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: (r) => void (cancelled = r),
  });
  const res = new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'mcp-session-id': 'sess-1', ...headers } });
  return { res, push: (s: string) => controller.enqueue(enc.encode(s)), end: () => controller.close(), cancelled: () => cancelled };
}

describe('jsonWhenAlone', () => {
  it('answers JSON when the stream carries only the priming event and the response, then ends', async () => {
    const s = sse();
    s.push(PRIMING);
    s.push(event(RESULT));
    s.end();
    const out = await jsonWhenAlone(s.res, 7);
    expect(out.headers.get('content-type')).toBe('application/json');
    expect(out.headers.get('mcp-session-id')).toBe('sess-1');
    expect(out.headers.get('cache-control')).toBeNull();
    expect(await out.json()).toEqual(RESULT);
  });

  it('an error response is answered as JSON too', async () => {
    const s = sse();
    const err = { jsonrpc: '2.0', id: 'a', error: { code: -32602, message: 'bad' } };
    s.push(event(err));
    s.end();
    expect(await (await jsonWhenAlone(s.res, 'a')).json()).toEqual(err);
  });

  it('keeps the stream, byte for byte, when a notification comes before the response', async () => {
    const s = sse();
    const sent = [PRIMING, event(PROGRESS, 's_2'), event(RESULT, 's_3')];
    s.push(sent[0]!);
    s.push(sent[1]!);
    const out = jsonWhenAlone(s.res, 7);
    s.push(sent[2]!);
    s.end();
    const res = await out;
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(await res.text()).toBe(sent.join(''));
  });

  it('keeps the stream when the call is slower than the wait, and nothing is lost across the switch', async () => {
    const s = sse();
    s.push(PRIMING);
    const out = jsonWhenAlone(s.res, 7, 30);
    const res = await out; // resolves after ~30 ms with the stream
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    s.push(event(RESULT)); // arrives while the first read is still pending
    s.end();
    expect(await res.text()).toBe(PRIMING + event(RESULT));
  });

  it('keeps the stream for a server request (elicitation) related to the call', async () => {
    const s = sse();
    s.push(event({ jsonrpc: '2.0', id: 0, method: 'elicitation/create', params: { message: 'approve?' } }));
    const res = await jsonWhenAlone(s.res, 7);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    s.push(event(RESULT));
    s.end();
    expect(await res.text()).toContain('"elicitation/create"');
  });

  it('keeps the stream for a response to another id, or data that is not JSON', async () => {
    const a = sse();
    a.push(event({ ...RESULT, id: 8 }));
    a.end();
    expect((await jsonWhenAlone(a.res, 7)).headers.get('content-type')).toBe('text/event-stream');
    const b = sse();
    b.push('data: {not json\n\n');
    b.end();
    expect((await jsonWhenAlone(b.res, 7)).headers.get('content-type')).toBe('text/event-stream');
  });

  it('handles events split across chunks', async () => {
    const s = sse();
    const text = PRIMING + event(RESULT);
    for (let i = 0; i < text.length; i += 7) s.push(text.slice(i, i + 7));
    s.end();
    expect(await (await jsonWhenAlone(s.res, 7)).json()).toEqual(RESULT);
  });

  it('passes JSON and error responses from the transport through untouched', async () => {
    const j = new Response('{"x":1}', { status: 202, headers: { 'content-type': 'application/json' } });
    expect(await jsonWhenAlone(j, 7)).toBe(j);
  });

  it('cancelling the replayed stream cancels the transport stream (the agent went away)', async () => {
    const s = sse();
    s.push(event(PROGRESS));
    const res = await jsonWhenAlone(s.res, 7);
    await res.body!.cancel('gone');
    expect(s.cancelled()).toBe('gone');
  });
});
