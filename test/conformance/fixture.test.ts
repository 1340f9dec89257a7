// The conformance fixture upstream, as a real stdio process behind an SDK client: it serves what the suite's scenarios expect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type ElicitRequest,
  type CreateMessageRequest,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import { EXPECTED_PROMPTS, EXPECTED_TOOLS } from './baseline.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'conformance-upstream.ts');

let client: Client;
let transport: StdioClientTransport;
const logs: unknown[] = [];
const elicitations: ElicitRequest['params'][] = [];
const samplings: CreateMessageRequest['params'][] = [];

beforeAll(async () => {
  client = new Client({ name: 'fixture-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    elicitations.push(req.params);
    return { action: 'accept', content: { username: 'ada', email: 'ada@example.com' } };
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    samplings.push(req.params);
    return { role: 'assistant', content: { type: 'text', text: 'hi from the client' }, model: 'test-model', stopReason: 'endTurn' };
  });
  transport = new StdioClientTransport({ command: process.execPath, args: ['--import', TSX, FIXTURE], stderr: 'ignore' });
  await client.connect(transport);
});

afterAll(async () => {
  await client?.close();
});

describe('conformance fixture upstream', () => {
  it('lists every tool and prompt the scenarios call, each with a description', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...EXPECTED_TOOLS].sort());
    for (const t of tools) expect(t.description, t.name).toBeTruthy();
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual([...EXPECTED_PROMPTS].sort());
    for (const p of prompts) expect(p.description, p.name).toBeTruthy();
  });

  it('keeps JSON Schema 2020-12 keywords in the listed input schema', async () => {
    const { tools } = await client.listTools();
    const schema = tools.find((t) => t.name === 'json_schema_2020_12_tool')!.inputSchema as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.$defs as object)).toEqual(['address']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('returns image, audio, embedded-resource and mixed content', async () => {
    const image = await client.callTool({ name: 'test_image_content', arguments: {} });
    expect(image.content).toEqual([expect.objectContaining({ type: 'image', mimeType: 'image/png' })]);
    const audio = (await client.callTool({ name: 'test_audio_content', arguments: {} })) as { content: Array<{ data: string; mimeType: string }> };
    expect(audio.content[0]!.mimeType).toBe('audio/wav');
    expect(Buffer.from(audio.content[0]!.data, 'base64').subarray(0, 4).toString('ascii')).toBe('RIFF');
    const embedded = await client.callTool({ name: 'test_embedded_resource', arguments: {} });
    expect(embedded.content).toEqual([{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }]);
    const mixed = (await client.callTool({ name: 'test_multiple_content_types', arguments: {} })) as { content: Array<{ type: string }> };
    expect(mixed.content.map((c) => c.type)).toEqual(['text', 'image', 'resource']);
  });

  it('reports an error result with a message', async () => {
    const r = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(r.isError).toBe(true);
    expect(r.content).toEqual([{ type: 'text', text: 'This tool intentionally returns an error for testing' }]);
  });

  it('sends progress 0, 50, 100 for a progress token, before its result', async () => {
    // Watched on the wire: the SDK client's onprogress can drop the last one when it shares a stdio read with the result.
    const seen: unknown[] = [];
    const inner = transport.onmessage!;
    transport.onmessage = (m: JSONRPCMessage) => {
      if ('method' in m && m.method === 'notifications/progress') seen.push((m.params as { progress: number }).progress);
      if ('result' in m) seen.push('result');
      inner(m);
    };
    try {
      await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, CallToolResultSchema, { onprogress: () => undefined });
    } finally {
      transport.onmessage = inner;
    }
    expect(seen).toEqual([0, 50, 100, 'result']);
  });

  it('logs three info messages, and none once the level is raised to error', async () => {
    logs.length = 0;
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toEqual(['Tool execution started', 'Tool processing data', 'Tool execution completed']);
    logs.length = 0;
    await client.setLoggingLevel('error');
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(logs).toEqual([]);
  });

  it('asks the client to sample and to elicit, with the schemas the scenarios check', async () => {
    const s = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'Say hi' } });
    expect(samplings.at(-1)).toMatchObject({ messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 100 });
    expect(s.content).toEqual([{ type: 'text', text: 'LLM response: hi from the client' }]);

    const e = await client.callTool({ name: 'test_elicitation', arguments: { message: 'Who are you?' } });
    expect(elicitations.at(-1)).toMatchObject({ message: 'Who are you?', requestedSchema: { required: ['username', 'email'] } });
    expect((e.content as Array<{ text: string }>)[0]!.text).toContain('action=accept');

    await client.callTool({ name: 'test_elicitation_sep1034_defaults', arguments: {} });
    const props = (elicitations.at(-1) as { requestedSchema: { properties: Record<string, { default?: unknown }> } }).requestedSchema.properties;
    expect(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.default]))).toEqual({ name: 'John Doe', age: 30, score: 95.5, status: 'active', verified: true });

    await client.callTool({ name: 'test_elicitation_sep1330_enums', arguments: {} });
    const enums = (elicitations.at(-1) as { requestedSchema: { properties: Record<string, unknown> } }).requestedSchema.properties;
    expect(Object.keys(enums)).toEqual(['untitledSingle', 'titledSingle', 'legacyEnum', 'untitledMulti', 'titledMulti']);
  });

  it('serves static, binary and templated resources, and accepts (un)subscribe', async () => {
    const text = await client.readResource({ uri: 'test://static-text' });
    expect(text.contents).toEqual([{ uri: 'test://static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' }]);
    const bin = await client.readResource({ uri: 'test://static-binary' });
    expect(bin.contents[0]).toMatchObject({ mimeType: 'image/png', blob: expect.any(String) });
    const tpl = await client.readResource({ uri: 'test://template/123/data' });
    expect(JSON.parse((tpl.contents[0] as { text: string }).text)).toEqual({ id: '123', templateTest: true, data: 'Data for ID: 123' });
    expect(await client.subscribeResource({ uri: 'test://watched-resource' })).toEqual({});
    expect(await client.unsubscribeResource({ uri: 'test://watched-resource' })).toEqual({});
  });

  it('fills prompt arguments and completes arg1', async () => {
    const p = await client.getPrompt({ name: 'test_prompt_with_arguments', arguments: { arg1: 'hello', arg2: 'world' } });
    expect(p.messages).toEqual([{ role: 'user', content: { type: 'text', text: "Prompt with arguments: arg1='hello', arg2='world'" } }]);
    const c = await client.complete({ ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' }, argument: { name: 'arg1', value: 'par' } });
    expect(c.completion.values).toEqual(['paris', 'park', 'party']);
    const embedded = await client.getPrompt({ name: 'test_prompt_with_embedded_resource', arguments: { resourceUri: 'test://example-resource' } });
    expect(embedded.messages[0]!.content).toMatchObject({ type: 'resource', resource: { uri: 'test://example-resource' } });
  });
});
