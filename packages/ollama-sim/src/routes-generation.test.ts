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

function lines(text: string): Record<string, unknown>[] {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line));
}

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

describe('/api/chat', () => {
  it('streams NDJSON by default: one token per line, metrics only on the final line', async () => {
    sim = await startOllamaSim();
    const { response, text } = await post('/api/chat', { model: 'llama3.2', messages });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const parsed = lines(text);
    const expected = simulatedReply({ model: 'llama3.2', messages });
    expect(parsed).toHaveLength(expected.chunks.length + 1);
    const body = parsed.slice(0, -1);
    for (const [index, line] of body.entries()) {
      expect(Object.keys(line)).toEqual(['model', 'created_at', 'message', 'done']);
      expect(line.model).toBe('llama3.2');
      expect(line.created_at).toMatch(RFC3339_NANO);
      expect(line.message).toEqual({ role: 'assistant', content: expected.chunks[index] });
      expect(line.done).toBe(false);
    }
    const final = parsed.at(-1) as Record<string, unknown>;
    expect(Object.keys(final)).toEqual([
      'model',
      'created_at',
      'message',
      'done',
      'done_reason',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ]);
    expect(final).toMatchObject({
      done: true,
      done_reason: 'stop',
      message: { role: 'assistant', content: '' },
    });
    expect(final.eval_count).toBe(expected.evalCount);
    expect(final.prompt_eval_count).toBe(expected.promptEvalCount);
    expect(Number.isInteger(final.total_duration)).toBe(true);
    expect(final.total_duration as number).toBeGreaterThanOrEqual(final.load_duration as number);
    expect(body.map((line) => (line.message as { content: string }).content).join('')).toBe(expected.content);
  });

  it('answers one JSON object without a trailing newline when stream is false', async () => {
    sim = await startOllamaSim();
    const { response, text } = await post('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(text.endsWith('\n')).toBe(false);
    const body = JSON.parse(text);
    expect(body.message.content).toBe(simulatedReply({ model: 'llama3.2', messages }).content);
    expect(body.done).toBe(true);
    expect(body.done_reason).toBe('stop');
  });

  it('honours num_predict with done_reason "length"', async () => {
    sim = await startOllamaSim();
    const { text } = await post('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 3 } });
    const parsed = lines(text);
    expect(parsed).toHaveLength(4);
    expect(parsed[3]).toMatchObject({ done_reason: 'length', eval_count: 3 });
  });

  it('is deterministic per model, messages and seed', async () => {
    sim = await startOllamaSim();
    const first = JSON.parse((await post('/api/chat', { model: 'llama3.2', messages, stream: false })).text);
    const again = JSON.parse(
      (await post('/api/chat', { model: 'llama3.2:latest', messages, stream: false })).text,
    );
    const seeded = JSON.parse(
      (await post('/api/chat', { model: 'llama3.2', messages, stream: false, options: { seed: 7 } })).text,
    );
    expect(again.message.content).toBe(first.message.content);
    expect(seeded.message.content).not.toBe(first.message.content);
  });

  it('sends thinking before content for a thinking model, and none with think: false', async () => {
    sim = await startOllamaSim();
    const expected = simulatedReply({ model: 'qwen3', messages });
    expect(expected.thinkingChunks.length).toBeGreaterThan(0);
    const parsed = lines((await post('/api/chat', { model: 'qwen3', messages })).text);
    const thinking = parsed.filter((line) => (line.message as { thinking?: string }).thinking !== undefined);
    expect(thinking.map((line) => (line.message as { thinking: string }).thinking)).toEqual(
      expected.thinkingChunks,
    );
    expect((thinking[0]!.message as Record<string, unknown>).content).toBe('');
    const plain = JSON.parse(
      (await post('/api/chat', { model: 'qwen3', messages, think: false, stream: false })).text,
    );
    expect(plain.message.thinking).toBeUndefined();
  });

  it('calls a tool in the real shape, after a silent gap, when tools are given', async () => {
    sim = await startOllamaSim();
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } },
            required: ['city'],
          },
        },
      },
    ];
    const parsed = lines((await post('/api/chat', { model: 'llama3.2', messages, tools })).text);
    expect(parsed).toHaveLength(2);
    const call = (parsed[0]!.message as { tool_calls: { id: string; function: Record<string, unknown> }[] })
      .tool_calls;
    expect(call).toHaveLength(1);
    expect(call[0]?.id).toMatch(/^call_[a-z0-9]{8}$/);
    expect(call[0]?.function.index).toBe(0);
    expect(call[0]?.function.name).toBe('get_weather');
    const args = call[0]?.function.arguments as { city: string; days: number };
    expect(typeof args.city).toBe('string');
    expect(args.days).toBeGreaterThanOrEqual(1);
    expect(args.days).toBeLessThanOrEqual(7);
    expect(simulatedReply({ model: 'llama3.2', messages, tools }).toolCalls).toEqual(call);
    // After the tool answered, the model replies in text.
    const followUp = JSON.parse(
      (
        await post('/api/chat', {
          model: 'llama3.2',
          messages: [
            ...messages,
            { role: 'assistant', content: '', tool_calls: call },
            { role: 'tool', content: '18 C' },
          ],
          tools,
          stream: false,
        })
      ).text,
    );
    expect(followUp.message.content.length).toBeGreaterThan(0);
    expect(followUp.message.tool_calls).toBeUndefined();
  });

  it('gives valid JSON for format "json" and for a JSON schema', async () => {
    sim = await startOllamaSim();
    const asJson = JSON.parse(
      (await post('/api/chat', { model: 'llama3.2', messages, format: 'json', stream: false })).text,
    );
    expect(() => JSON.parse(asJson.message.content)).not.toThrow();
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        age: { type: 'integer', minimum: 0, maximum: 120 },
        tags: { type: 'array', items: { type: 'string' } },
        kind: { enum: ['a', 'b'] },
      },
      required: ['name', 'age'],
    };
    const streamed = lines((await post('/api/chat', { model: 'llama3.2', messages, format: schema })).text);
    const content = streamed.map((line) => (line.message as { content: string }).content).join('');
    const value = JSON.parse(content);
    expect(typeof value.name).toBe('string');
    expect(Number.isInteger(value.age)).toBe(true);
    expect(Array.isArray(value.tags)).toBe(true);
    expect(['a', 'b']).toContain(value.kind);
  });

  it('answers load and unload for an empty message list', async () => {
    sim = await startOllamaSim();
    const load = await post('/api/chat', { model: 'llama3.2' });
    expect(load.response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(load.text)).toMatchObject({
      done: true,
      done_reason: 'load',
      message: { role: 'assistant', content: '' },
    });
    expect(sim.stats('llama3.2').loaded).toBe(true);
    const unload = await post('/api/chat', { model: 'llama3.2', messages: [], keep_alive: 0 });
    expect(JSON.parse(unload.text)).toMatchObject({ done: true, done_reason: 'unload' });
    expect(sim.stats('llama3.2').loaded).toBe(false);
  });

  it('escapes <, > and & as Go does', async () => {
    sim = await startOllamaSim({ models: [{ name: 'llama3.2', replyTokens: 400 }] });
    const { text } = await post('/api/chat', { model: 'llama3.2', messages, stream: false });
    const content = JSON.parse(text).message.content as string;
    expect(/[<>&]/.test(content)).toBe(true);
    expect(/[<>&]/.test(text)).toBe(false);
    expect(text).toMatch(/\\u003c|\\u003e|\\u0026/);
  });

  it('streams a 100,000-token answer quickly', async () => {
    sim = await startOllamaSim({ models: [{ name: 'long', replyTokens: 100_000 }] });
    const started = performance.now();
    const { text } = await post('/api/chat', { model: 'long', messages });
    const elapsed = performance.now() - started;
    expect(text.split('\n').length - 1).toBe(100_001);
    expect(elapsed).toBeLessThan(10_000);
  });
});

describe('/api/generate', () => {
  it('streams response chunks and ends with context and metrics', async () => {
    sim = await startOllamaSim();
    const { response, text } = await post('/api/generate', { model: 'llama3.2', prompt: 'Hello' });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const parsed = lines(text);
    const expected = simulatedReply({ model: 'llama3.2', prompt: 'Hello' });
    expect(parsed.slice(0, -1).map((line) => line.response)).toEqual(expected.chunks);
    expect(Object.keys(parsed[0] as object)).toEqual(['model', 'created_at', 'response', 'done']);
    const final = parsed.at(-1) as Record<string, unknown>;
    expect(final).toMatchObject({ done: true, done_reason: 'stop', response: '' });
    expect(Object.keys(final).slice(0, 7)).toEqual([
      'model',
      'created_at',
      'response',
      'done',
      'done_reason',
      'context',
      'total_duration',
    ]);
    expect((final.context as number[]).length).toBe(expected.promptEvalCount + expected.evalCount);
  });

  it('omits context with raw, and answers non-streamed', async () => {
    sim = await startOllamaSim();
    const body = JSON.parse(
      (await post('/api/generate', { model: 'llama3.2', prompt: 'Hi', raw: true, stream: false })).text,
    );
    expect(body.context).toBeUndefined();
    expect(body.response).toBe(simulatedReply({ model: 'llama3.2', prompt: 'Hi' }).content);
  });

  it('loads on an empty prompt and unloads with keep_alive 0', async () => {
    sim = await startOllamaSim();
    const load = JSON.parse((await post('/api/generate', { model: 'gemma3' })).text);
    expect(load).toMatchObject({ model: 'gemma3', response: '', done: true, done_reason: 'load' });
    expect(Object.keys(load)).toEqual(['model', 'created_at', 'response', 'done', 'done_reason']);
    expect(sim.stats('gemma3').loaded).toBe(true);
    const unload = JSON.parse((await post('/api/generate', { model: 'gemma3', keep_alive: 0 })).text);
    expect(unload.done_reason).toBe('unload');
    expect(sim.stats('gemma3').loaded).toBe(false);
  });

  it('thinks on a thinking model', async () => {
    sim = await startOllamaSim();
    const body = JSON.parse(
      (await post('/api/generate', { model: 'qwen3', prompt: 'Hi', stream: false })).text,
    );
    expect(body.thinking).toBe(simulatedReply({ model: 'qwen3', prompt: 'Hi' }).thinking);
  });
});

describe('/api/embed and /api/embeddings', () => {
  it('embeds a string and a list, unit length, with dimensions', async () => {
    sim = await startOllamaSim();
    const one = JSON.parse((await post('/api/embed', { model: 'nomic-embed-text', input: 'hello' })).text);
    expect(Object.keys(one)).toEqual([
      'model',
      'embeddings',
      'total_duration',
      'load_duration',
      'prompt_eval_count',
    ]);
    expect(one.embeddings).toHaveLength(1);
    expect(one.embeddings[0]).toHaveLength(768);
    const norm = Math.hypot(...(one.embeddings[0] as number[]));
    expect(norm).toBeCloseTo(1, 5);
    const many = JSON.parse(
      (await post('/api/embed', { model: 'nomic-embed-text', input: ['a', 'hello'], dimensions: 16 })).text,
    );
    expect(many.embeddings).toHaveLength(2);
    expect(many.embeddings[1]).toHaveLength(16);
    expect(Math.hypot(...(many.embeddings[1] as number[]))).toBeCloseTo(1, 5);
    const empty = await post('/api/embed', { model: 'nomic-embed-text', input: [] });
    expect(empty.text).toBe('{"model":"nomic-embed-text","embeddings":[]}');
  });

  it('answers the legacy route with one float64 vector', async () => {
    sim = await startOllamaSim();
    const body = JSON.parse(
      (await post('/api/embeddings', { model: 'nomic-embed-text', prompt: 'hello' })).text,
    );
    expect(Object.keys(body)).toEqual(['embedding']);
    expect(body.embedding).toHaveLength(768);
    const empty = await post('/api/embeddings', { model: 'nomic-embed-text', prompt: '' });
    expect(empty.text).toBe('{"embedding":[]}');
  });

  it('rejects a bad input type and a too long input without truncation', async () => {
    sim = await startOllamaSim({ models: [{ name: 'tiny-embed', contextLength: 4 }] });
    const bad = await post('/api/embed', { model: 'tiny-embed', input: [1] });
    expect(bad.response.status).toBe(400);
    expect(bad.text).toBe('{"error":"invalid input type"}');
    const long = await post('/api/embed', {
      model: 'tiny-embed',
      input: 'one two three four five six',
      truncate: false,
    });
    expect(long.response.status).toBe(400);
    expect(long.text).toBe('{"error":"the input length exceeds the context length"}');
  });
});

describe('stop sequences', () => {
  it('cuts the answer at the first stop sequence, with done_reason "stop"', async () => {
    sim = await startOllamaSim();
    const natural = simulatedReply({ model: 'llama3.2', messages });
    // Two stop sequences taken from the natural answer; the earlier one wins.
    const later = (natural.chunks[6] as string).trim();
    const earlier = `${natural.chunks[3]}${natural.chunks[4]}`.slice(1, -1);
    const stop = [later, earlier];
    const cutAt = natural.content.indexOf(earlier);
    expect(cutAt).toBeGreaterThan(0);
    const whole = JSON.parse(
      (await post('/api/chat', { model: 'llama3.2', messages, stream: false, options: { stop } })).text,
    );
    expect(whole.message.content).toBe(natural.content.slice(0, cutAt));
    expect(whole.done_reason).toBe('stop');
    expect(whole.eval_count).toBeLessThan(natural.evalCount);
    const streamed = lines(
      (await post('/api/chat', { model: 'llama3.2', messages, options: { stop } })).text,
    );
    const text = streamed.map((line) => (line.message as { content: string }).content).join('');
    expect(text).toBe(natural.content.slice(0, cutAt));
    expect(streamed.at(-1)?.done_reason).toBe('stop');
    const predicted = simulatedReply({ model: 'llama3.2', messages, options: { stop } });
    expect(predicted.content).toBe(natural.content.slice(0, cutAt));
    // A stop sequence that never occurs changes nothing; num_predict still cuts with "length".
    const none = JSON.parse(
      (
        await post('/api/generate', {
          model: 'llama3.2',
          prompt: 'hi',
          stream: false,
          options: { stop: ['\u0000never'], num_predict: 3 },
        })
      ).text,
    );
    expect(none.done_reason).toBe('length');
    expect(none.eval_count).toBe(3);
  });
});

describe('logprobs', () => {
  const bytesOf = (token: string) => Array.from(Buffer.from(token, 'utf8'));

  it('puts one api.Logprob per token on each streamed line, none on the final line', async () => {
    sim = await startOllamaSim();
    const expected = simulatedReply({ model: 'llama3.2', messages });
    const { text } = await post('/api/chat', {
      model: 'llama3.2',
      messages,
      logprobs: true,
      top_logprobs: 3,
    });
    // Go's field order (api.ChatResponse): ..., done, done_reason, logprobs, metrics.
    expect(text.split('\n')[0]).toMatch(
      /"done":false,"logprobs":\[\{"token":"[^"]*","logprob":-[\d.]+,"bytes":\[/,
    );
    const parsed = lines(text);
    const body = parsed.slice(0, -1);
    expect(body).toHaveLength(expected.chunks.length);
    body.forEach((line, index) => {
      const token = expected.chunks[index] as string;
      const logprobs = line.logprobs as {
        token: string;
        logprob: number;
        bytes: number[];
        top_logprobs: unknown[];
      }[];
      expect(logprobs).toHaveLength(1);
      const [entry] = logprobs;
      expect(entry).toMatchObject({ token, bytes: bytesOf(token) });
      expect(entry?.logprob).toBeLessThan(0);
      const top = entry?.top_logprobs as { token: string; logprob: number; bytes: number[] }[];
      expect(top).toHaveLength(3);
      // Most likely first, the chosen token among them, probabilities summing below 1.
      expect(top[0]).toEqual({ token, logprob: entry?.logprob, bytes: bytesOf(token) });
      for (let rank = 1; rank < top.length; rank++) {
        expect(top[rank]?.logprob).toBeLessThan(top[rank - 1]?.logprob as number);
        expect(top[rank]?.bytes).toEqual(bytesOf(top[rank]?.token as string));
      }
      expect(top.reduce((sum, item) => sum + Math.exp(item.logprob), 0)).toBeLessThan(1);
    });
    expect(parsed.at(-1)).toMatchObject({ done: true });
    expect(parsed.at(-1)).not.toHaveProperty('logprobs');
  });

  it('gathers every token on a non-streamed answer, in Go field order, and is deterministic', async () => {
    sim = await startOllamaSim();
    const expected = simulatedReply({ model: 'llama3.2', prompt: 'Why?' });
    const request = { model: 'llama3.2', prompt: 'Why?', logprobs: true, stream: false };
    const first = await post('/api/generate', request);
    // api.GenerateResponse: context, metrics, then logprobs last.
    expect(first.text).toMatch(/"eval_duration":\d+,"logprobs":\[\{"token":/);
    const body = JSON.parse(first.text) as { logprobs: { token: string; top_logprobs?: unknown }[] };
    expect(body.logprobs.map((entry) => entry.token)).toEqual(expected.chunks);
    expect(body.logprobs.every((entry) => entry.top_logprobs === undefined)).toBe(true);
    const again = JSON.parse((await post('/api/generate', request)).text) as typeof body;
    expect(again.logprobs).toEqual(body.logprobs);
    const chat = await post('/api/chat', { model: 'llama3.2', messages, logprobs: true, stream: false });
    expect(chat.text).toMatch(/"done_reason":"stop","logprobs":\[.*\],"total_duration":/);
  });

  it('streams generate logprobs, thinking tokens included, and none without logprobs: true', async () => {
    sim = await startOllamaSim();
    const expected = simulatedReply({ model: 'qwen3', prompt: 'Why?' });
    const { text } = await post('/api/generate', {
      model: 'qwen3',
      prompt: 'Why?',
      logprobs: true,
      top_logprobs: 1,
    });
    const tokens = lines(text)
      .slice(0, -1)
      .map((line) => (line.logprobs as { token: string }[])[0]?.token);
    expect(tokens).toEqual([...expected.thinkingChunks, ...expected.chunks]);
    const without = await post('/api/generate', { model: 'llama3.2', prompt: 'Why?', top_logprobs: 5 });
    expect(without.text).not.toContain('logprobs');
  });
});
