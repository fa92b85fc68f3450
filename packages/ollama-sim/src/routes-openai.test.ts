import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startOllamaSim } from './server.js';
import { simulatedReply } from './simulated-reply.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  await sim?.close();
});

async function post(path: string, body: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { response, text: await response.text() };
}

function events(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });
}

const messages = [{ role: 'user', content: 'Say something' }];

describe('/v1/chat/completions', () => {
  it('streams SSE chunks, the first with the role, ending with a finish chunk and [DONE]', async () => {
    sim = await startOllamaSim();
    const { response, text } = await post('/v1/chat/completions', {
      model: 'llama3.2',
      messages,
      stream: true,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const data = events(text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((event) => JSON.parse(event));
    const expected = simulatedReply({ model: 'llama3.2', messages });
    expect(chunks).toHaveLength(expected.chunks.length + 1);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: expected.chunks[0] });
    expect(chunks[1].choices[0].delta).toEqual({ content: expected.chunks[1] });
    expect(chunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      model: 'llama3.2',
      system_fingerprint: 'fp_ollama',
    });
    expect(chunks[0].id).toMatch(/^chatcmpl-\d+$/);
    expect(chunks.at(-1).choices[0]).toEqual({ index: 0, delta: {}, finish_reason: 'stop' });
    const content = chunks
      .slice(0, -1)
      .map((chunk: { choices: { delta: { content: string } }[] }) => chunk.choices[0]?.delta.content)
      .join('');
    expect(content).toBe(expected.content);
  });

  it('adds a usage chunk when asked, and maps max_tokens to num_predict', async () => {
    sim = await startOllamaSim();
    const { text } = await post('/v1/chat/completions', {
      model: 'llama3.2',
      messages,
      stream: true,
      max_tokens: 2,
      stream_options: { include_usage: true },
    });
    const data = events(text);
    const usage = JSON.parse(data.at(-2) as string);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(2);
    expect(JSON.parse(data.at(-3) as string).choices[0].finish_reason).toBe('length');
  });

  it('answers one chat.completion object by default, with a trailing newline', async () => {
    sim = await startOllamaSim();
    const { response, text } = await post('/v1/chat/completions', { model: 'qwen3', messages });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(text.endsWith('}\n')).toBe(true);
    const body = JSON.parse(text);
    const expected = simulatedReply({ model: 'qwen3', messages });
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message).toEqual({
      role: 'assistant',
      content: expected.content,
      reasoning: expected.thinking,
    });
    expect(body.usage).toEqual({
      prompt_tokens: expected.promptEvalCount,
      completion_tokens: expected.evalCount,
      total_tokens: expected.promptEvalCount + expected.evalCount,
    });
  });

  it('answers errors in the OpenAI shape', async () => {
    sim = await startOllamaSim();
    const missing = await post('/v1/chat/completions', { model: 'nope', messages });
    expect(missing.response.status).toBe(404);
    expect(missing.text).toBe(
      '{"error":{"message":"model \'nope\' not found","type":"not_found_error","param":null,"code":null}}\n',
    );
    const empty = await post('/v1/chat/completions', { model: 'llama3.2', messages: [] });
    expect(empty.response.status).toBe(400);
    expect(JSON.parse(empty.text).error).toMatchObject({
      message: "[] is too short - 'messages'",
      type: 'invalid_request_error',
    });
    const noBody = await post('/v1/chat/completions', '');
    expect(JSON.parse(noBody.text).error.message).toBe('EOF');
  });

  it('answers the middleware 400s as gin does (charset, no newline), handler errors through its writer', async () => {
    sim = await startOllamaSim();
    for (const [path, body] of [
      ['/v1/chat/completions', '{bad'],
      ['/v1/chat/completions', { model: 'llama3.2', messages: [] }],
      ['/v1/completions', ''],
      ['/v1/embeddings', { model: 'nomic-embed-text', input: [] }],
    ] as const) {
      const answer = await post(path, body);
      expect(answer.response.status, path).toBe(400);
      expect(answer.response.headers.get('content-type'), path).toBe('application/json; charset=utf-8');
      expect(answer.text.endsWith('}'), path).toBe(true);
      expect(JSON.parse(answer.text).error.type).toBe('invalid_request_error');
    }
    const missing = await post('/v1/completions', { model: 'nope', prompt: 'hi' });
    expect(missing.response.status).toBe(404);
    expect(missing.response.headers.get('content-type')).toBe('application/json');
    expect(missing.text.endsWith('}\n')).toBe(true);
  });

  it('works with the official openai client, streamed and not', async () => {
    sim = await startOllamaSim();
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const expected = simulatedReply({ model: 'llama3.2', messages });
    const completion = await client.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'Say something' }],
    });
    expect(completion.choices[0]?.message.content).toBe(expected.content);
    const stream = await client.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'Say something' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(expected.content);
    await expect(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toMatchObject({ status: 404 });
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toContain('llama3.2:latest');
  });

  it('lets the openai client return a truncated answer, without an error, when the runner fails mid-stream', async () => {
    sim = await startOllamaSim({
      faults: [{ route: '/v1/chat/completions', kind: 'error-line', afterChunks: 3 }],
    });
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const expected = simulatedReply({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'Say something' }],
    });
    const stream = await client.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'Say something' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(expected.chunks.slice(0, 3).join(''));
    expect(text.length).toBeLessThan(expected.content.length);
  });

  it('streams tool calls with finish_reason tool_calls', async () => {
    sim = await startOllamaSim();
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const { text } = await post('/v1/chat/completions', { model: 'llama3.2', messages, tools, stream: true });
    const chunks = events(text)
      .slice(0, -1)
      .map((event) => JSON.parse(event));
    const call = chunks[0].choices[0].delta.tool_calls[0];
    expect(call).toMatchObject({ index: 0, type: 'function', function: { name: 'lookup' } });
    expect(call.id).toMatch(/^call_[a-z0-9]{8}$/);
    expect(typeof JSON.parse(call.function.arguments).q).toBe('string');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
  });
});

describe('/v1/completions, /v1/embeddings, /v1/models', () => {
  it('completes text, streamed and not', async () => {
    sim = await startOllamaSim();
    const expected = simulatedReply({ model: 'llama3.2', prompt: 'Once' });
    const plain = JSON.parse((await post('/v1/completions', { model: 'llama3.2', prompt: 'Once' })).text);
    expect(plain.object).toBe('text_completion');
    expect(plain.choices[0]).toEqual({ text: expected.content, index: 0, finish_reason: 'stop' });
    const data = events(
      (await post('/v1/completions', { model: 'llama3.2', prompt: 'Once', stream: true })).text,
    );
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((event) => JSON.parse(event));
    expect(chunks.map((chunk) => chunk.choices[0].text).join('')).toBe(expected.content);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('embeds as floats or base64', async () => {
    sim = await startOllamaSim();
    const floats = JSON.parse(
      (await post('/v1/embeddings', { model: 'nomic-embed-text', input: ['a', 'b'] })).text,
    );
    expect(floats.object).toBe('list');
    expect(floats.data).toHaveLength(2);
    expect(floats.data[1]).toMatchObject({ object: 'embedding', index: 1 });
    expect(floats.data[0].embedding).toHaveLength(768);
    const base64 = JSON.parse(
      (await post('/v1/embeddings', { model: 'nomic-embed-text', input: 'a', encoding_format: 'base64' }))
        .text,
    );
    const bytes = Buffer.from(base64.data[0].embedding, 'base64');
    expect(bytes.length).toBe(768 * 4);
    expect(bytes.readFloatLE(0)).toBeCloseTo(floats.data[0].embedding[0], 6);
  });

  it('prints /v1/embeddings floats as float32, the same numbers /api/embed prints', async () => {
    sim = await startOllamaSim();
    const openai = await post('/v1/embeddings', { model: 'nomic-embed-text', input: 'same text' });
    const native = await post('/api/embed', { model: 'nomic-embed-text', input: 'same text' });
    const vector = JSON.parse(openai.text).data[0].embedding as number[];
    expect(vector).toEqual(JSON.parse(native.text).embeddings[0]);
    for (const value of vector) expect(Math.fround(value)).toBe(Math.fround(Number(value.toPrecision(9))));
    const digits = (openai.text.match(/-?\d+\.\d+(e-?\d+)?/g) ?? []).map((text) =>
      text.replace(/^-?0\.0*/, ''),
    );
    expect(
      Math.max(...digits.map((text) => text.replace(/e.*$/, '').replace('.', '').length)),
    ).toBeLessThanOrEqual(9);
  });

  it('lists and retrieves models', async () => {
    sim = await startOllamaSim();
    const list = JSON.parse(await (await fetch(`${sim.url}/v1/models`)).text());
    expect(list.object).toBe('list');
    expect(list.data[0]).toMatchObject({ id: 'llama3.2:latest', object: 'model', owned_by: 'library' });
    expect(Number.isInteger(list.data[0].created)).toBe(true);
    const one = await fetch(`${sim.url}/v1/models/qwen3`);
    expect(JSON.parse(await one.text())).toMatchObject({ id: 'qwen3', object: 'model' });
    const missing = await fetch(`${sim.url}/v1/models/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(await missing.text()).error.type).toBe('not_found_error');
  });
});
