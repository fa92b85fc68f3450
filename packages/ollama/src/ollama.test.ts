import { BulwarkError, ErrorCode, InvalidOptionError, ResponseError } from '@bulwark/core';
import { type OllamaSim, simulatedReply, startOllamaSim } from '@bulwark/ollama-sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Ollama } from './ollama.js';
import type { ChatResponse, GenerateResponse, ProgressResponse } from './types.js';

let sim: OllamaSim;
let ollama: Ollama;

beforeAll(async () => {
  sim = await startOllamaSim({ host: '127.0.0.1', port: 0, pullable: ['pulled-a', 'pulled-b'] });
  ollama = new Ollama({ host: sim.url });
});

afterAll(async () => {
  await ollama.close();
  await sim.close();
});

afterEach(() => {
  sim.clearFaults();
  sim.clearRequests();
});

const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

function expectMetrics(final: ChatResponse | GenerateResponse): void {
  expect(final.done).toBe(true);
  expect(final.done_reason).toBe('stop');
  for (const key of [
    'total_duration',
    'load_duration',
    'prompt_eval_count',
    'prompt_eval_duration',
    'eval_count',
    'eval_duration',
  ] as const) {
    expect(typeof final[key], key).toBe('number');
  }
  expect(typeof final.created_at).toBe('string');
  expect(final.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const part of iterable) out.push(part);
  return out;
}

describe('chat', () => {
  it('assembles a non-streamed answer byte for byte, with metrics', async () => {
    const answer = await ollama.chat({ model: 'llama3.2', messages });
    const expected = simulatedReply({ model: 'llama3.2', messages });
    expect(answer.message.content).toBe(expected.content);
    expect(answer.message.role).toBe('assistant');
    expect(answer.model).toBe('llama3.2');
    expect(answer.eval_count).toBe(expected.evalCount);
    expectMetrics(answer);
    // always asks the server for a stream
    expect(sim.requests[0]?.body).toMatchObject({ stream: true });
  });

  it('streams chunks whose contents join to the answer', async () => {
    const parts = await drain(await ollama.chat({ model: 'llama3.2', messages, stream: true }));
    const expected = simulatedReply({ model: 'llama3.2', messages });
    expect(parts.map((part) => part.message.content).join('')).toBe(expected.content);
    expect(parts.length).toBe(expected.chunks.length + 1);
    expect(parts.slice(0, -1).every((part) => part.done === false)).toBe(true);
    expectMetrics(parts.at(-1) as ChatResponse);
  });

  it('assembles thinking and content of a thinking model', async () => {
    const request = { model: 'qwen3', messages, think: true };
    const expected = simulatedReply(request);
    expect(expected.thinking).toBeTruthy();
    const answer = await ollama.chat(request);
    expect(answer.message.thinking).toBe(expected.thinking);
    expect(answer.message.content).toBe(expected.content);
    const parts = await drain(await ollama.chat({ ...request, stream: true }));
    expect(parts.map((part) => part.message.thinking ?? '').join('')).toBe(expected.thinking);
    expect(parts.map((part) => part.message.content).join('')).toBe(expected.content);
  });

  it('returns tool calls in the official shape', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The weather in a city',
          parameters: {
            type: 'object',
            required: ['city'],
            properties: { city: { type: 'string', description: 'The city' } },
          },
        },
      },
    ];
    const request = { model: 'llama3.2', messages, tools };
    const expected = simulatedReply(request);
    expect(expected.toolCalls?.length).toBeGreaterThan(0);
    const answer = await ollama.chat(request);
    expect(answer.message.tool_calls?.length).toBe(expected.toolCalls?.length);
    expect(answer.message.tool_calls?.[0]?.function.name).toBe('get_weather');
    expect(typeof answer.message.tool_calls?.[0]?.function.arguments).toBe('object');
    const parts = await drain(await ollama.chat({ ...request, stream: true }));
    expect(parts.flatMap((part) => part.message.tool_calls ?? []).length).toBe(expected.toolCalls?.length);
  });

  it('honours format: json and a JSON schema', async () => {
    const json = await ollama.chat({ model: 'llama3.2', messages, format: 'json' });
    expect(() => JSON.parse(json.message.content)).not.toThrow();
    const schema = {
      type: 'object',
      properties: { color: { type: 'string' } },
      required: ['color'],
    };
    const shaped = await ollama.chat({ model: 'llama3.2', messages, format: schema });
    expect(typeof (JSON.parse(shaped.message.content) as { color: unknown }).color).toBe('string');
  });

  it('answers 404 for an unknown model with a ResponseError carrying the server message', async () => {
    const error = await ollama.chat({ model: 'nope', messages }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ResponseError);
    const response = error as ResponseError;
    expect(response.code).toBe(ErrorCode.HttpStatus);
    expect(response.status).toBe(404);
    expect(response.serverMessage).toBe("model 'nope' not found");
    expect(response.retryable).toBe(false);
    expect(response.model).toBe('nope');
    const streamed = await ollama
      .chat({ model: 'nope', messages, stream: true })
      .catch((caught: unknown) => caught);
    expect((streamed as ResponseError).status).toBe(404);
  });

  it('answers 400 with the server text', async () => {
    const error = (await ollama
      .chat({ model: 'llama3.2', messages, think: true })
      .catch((caught: unknown) => caught)) as ResponseError;
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.status).toBe(400);
    expect(error.serverMessage).toBe('"llama3.2" does not support thinking');
    expect(error.retryable).toBe(false);
  });

  it('rejects a request that is not an object or has no model before sending', async () => {
    await expect(ollama.chat(null as never)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(ollama.chat({ messages } as never)).rejects.toMatchObject({ option: 'model' });
    expect(sim.requests).toHaveLength(0);
  });
});

describe('generate', () => {
  const request = { model: 'llama3.2', prompt: 'Why is the sky blue?' };

  it('assembles a non-streamed answer with context and metrics', async () => {
    const answer = await ollama.generate(request);
    expect(answer.response).toBe(simulatedReply(request).content);
    expect(Array.isArray(answer.context)).toBe(true);
    expectMetrics(answer);
  });

  it('streams chunks whose responses join to the answer', async () => {
    const parts = await drain(await ollama.generate({ ...request, stream: true }));
    expect(parts.map((part) => part.response).join('')).toBe(simulatedReply(request).content);
    expectMetrics(parts.at(-1) as GenerateResponse);
  });

  it('assembles thinking', async () => {
    const thinking = { model: 'qwen3', prompt: 'hi', think: true };
    const answer = await ollama.generate(thinking);
    const expected = simulatedReply(thinking);
    expect(answer.thinking).toBe(expected.thinking);
    expect(answer.response).toBe(expected.content);
  });

  it('loads a model on an empty prompt (done_reason load)', async () => {
    const answer = await ollama.generate({ model: 'llama3.2', prompt: '' });
    expect(answer.done_reason).toBe('load');
    expect(answer.response).toBe('');
  });
});

describe('embeddings', () => {
  it('embed returns one vector per input', async () => {
    const answer = await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(answer.embeddings).toHaveLength(2);
    expect(answer.embeddings[0]?.length).toBeGreaterThan(10);
    expect(answer.model).toBe('nomic-embed-text');
    expect(typeof answer.total_duration).toBe('number');
  });

  it('embeddings returns one vector', async () => {
    const answer = await ollama.embeddings({ model: 'nomic-embed-text', prompt: 'a' });
    expect(answer.embedding.length).toBeGreaterThan(10);
  });

  it('an unknown model is a 404 with the embed text', async () => {
    const error = (await ollama
      .embed({ model: 'nope', input: 'a' })
      .catch((caught: unknown) => caught)) as ResponseError;
    expect(error.status).toBe(404);
    expect(error.serverMessage).toBe('model "nope" not found, try pulling it first');
  });
});

describe('models', () => {
  it('list, show, ps, version', async () => {
    const list = await ollama.list();
    expect(list.models.map((model) => model.name)).toEqual(sim.modelNames());
    expect(list.models[0]?.details.family).toBeTruthy();
    const show = await ollama.show({ model: 'llama3.2' });
    expect(show.capabilities).toContain('completion');
    expect(typeof show.modelfile).toBe('string');
    expect(typeof show.model_info).toBe('object');
    await ollama.generate({ model: 'llama3.2', prompt: '' });
    const ps = await ollama.ps();
    expect(ps.models.map((model) => model.model)).toContain('llama3.2:latest');
    expect(typeof ps.models[0]?.expires_at).toBe('string');
    expect(await ollama.version()).toEqual({ version: '0.33.0' });
  });

  it('show of an unknown model is a 404', async () => {
    await expect(ollama.show({ model: 'nope' })).rejects.toMatchObject({ status: 404, retryable: false });
  });

  it('pull streams progress ending in success, and resolves to success when not streamed', async () => {
    const parts = (await drain(await ollama.pull({ model: 'pulled-a', stream: true }))) as ProgressResponse[];
    expect(parts[0]?.status).toBe('pulling manifest');
    expect(parts.at(-1)?.status).toBe('success');
    expect(parts.some((part) => typeof part.total === 'number' && typeof part.completed === 'number')).toBe(
      true,
    );
    expect(await ollama.pull({ model: 'pulled-b' })).toMatchObject({ status: 'success' });
    expect((await ollama.list()).models.map((model) => model.name)).toContain('pulled-b:latest');
  });

  it('push and create stream progress and resolve to success', async () => {
    const pushed = await drain(await ollama.push({ model: 'llama3.2', stream: true }));
    expect(pushed.at(-1)?.status).toBe('success');
    expect(await ollama.push({ model: 'llama3.2' })).toMatchObject({ status: 'success' });
    const created = await drain(
      await ollama.create({ model: 'mine-a', from: 'llama3.2', system: 'Be brief.', stream: true }),
    );
    expect(created.at(-1)?.status).toBe('success');
    expect(await ollama.create({ model: 'mine-b', from: 'llama3.2' })).toMatchObject({ status: 'success' });
    expect((await ollama.list()).models.map((model) => model.name)).toEqual(
      expect.arrayContaining(['mine-a:latest', 'mine-b:latest']),
    );
  });

  it('copy and delete', async () => {
    expect(await ollama.copy({ source: 'llama3.2', destination: 'copied' })).toEqual({ status: 'success' });
    expect((await ollama.list()).models.map((model) => model.name)).toContain('copied:latest');
    expect(await ollama.delete({ model: 'copied' })).toEqual({ status: 'success' });
    expect((await ollama.list()).models.map((model) => model.name)).not.toContain('copied:latest');
    const error = (await ollama
      .delete({ model: 'copied' })
      .catch((caught: unknown) => caught)) as ResponseError;
    expect(BulwarkError.is(error)).toBe(true);
    expect(error.status).toBe(404);
    expect(error.serverMessage).toBe("model 'copied' not found");
    await expect(ollama.copy({ source: 'nope', destination: 'x' })).rejects.toMatchObject({ status: 404 });
  });
});

describe('a long answer', () => {
  it('is assembled whole, chat and generate, past many batches of pieces', async () => {
    const spec = { name: 'long', replyTokens: 1_000 };
    const longSim = await startOllamaSim({ host: '127.0.0.1', port: 0, models: [spec] });
    const client = new Ollama({ host: longSim.url });
    try {
      const chat = await client.chat({ model: 'long', messages });
      const expectedChat = simulatedReply(spec, { messages });
      expect(expectedChat.chunks.length).toBe(1_000);
      expect(chat.message.content).toBe(expectedChat.content);
      const generated = await client.generate({ model: 'long', prompt: 'Tell me more' });
      expect(generated.response).toBe(simulatedReply(spec, { prompt: 'Tell me more' }).content);
    } finally {
      await client.close();
      await longSim.close();
    }
  });
});
