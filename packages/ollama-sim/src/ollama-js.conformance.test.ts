// The official ollama-js client (0.6.4) against the simulator: it must parse every answer and
// surface errors exactly as it does against a real Ollama.
import { Ollama } from 'ollama';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startOllamaSim } from './server.js';
import { simulatedReply } from './simulated-reply.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  vi.restoreAllMocks();
  await sim?.close();
});

const messages = [{ role: 'user', content: 'Tell me a story' }];

async function errorOf(promise: Promise<unknown>): Promise<Error & { status_code?: number; error?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { status_code?: number; error?: string };
  }
  throw new Error('expected a rejection');
}

describe('ollama-js 0.6.4', () => {
  it('chats, non-streamed and streamed, assembling exactly the simulated text', async () => {
    sim = await startOllamaSim();
    const ollama = new Ollama({ host: sim.url });
    const expected = simulatedReply({ model: 'llama3.2', messages });
    const answer = await ollama.chat({ model: 'llama3.2', messages });
    expect(answer.message).toEqual({ role: 'assistant', content: expected.content });
    expect(answer.done).toBe(true);
    expect(answer.done_reason).toBe('stop');
    expect(answer.eval_count).toBe(expected.evalCount);

    const parts: string[] = [];
    let final: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of await ollama.chat({ model: 'llama3.2', messages, stream: true })) {
      parts.push(part.message.content);
      if (part.done) final = part;
    }
    expect(parts.join('')).toBe(expected.content);
    expect(parts.slice(0, -1)).toEqual(expected.chunks);
    expect(final?.prompt_eval_count).toBe(expected.promptEvalCount);
  });

  it('streams thinking and parses tool calls', async () => {
    sim = await startOllamaSim();
    const ollama = new Ollama({ host: sim.url });
    let thinking = '';
    for await (const part of await ollama.chat({ model: 'qwen3', messages, stream: true, think: true })) {
      thinking += part.message.thinking ?? '';
    }
    expect(thinking).toBe(simulatedReply({ model: 'qwen3', messages, think: true }).thinking);
    const tools = [
      {
        type: 'function',
        function: {
          name: 'roll_dice',
          parameters: { type: 'object', properties: { sides: { type: 'integer' } }, required: ['sides'] },
        },
      },
    ];
    const answer = await ollama.chat({ model: 'llama3.2', messages, tools });
    expect(answer.message.tool_calls?.[0]?.function.name).toBe('roll_dice');
    expect(Number.isInteger(answer.message.tool_calls?.[0]?.function.arguments.sides)).toBe(true);
  });

  it('generates, non-streamed and streamed', async () => {
    sim = await startOllamaSim();
    const ollama = new Ollama({ host: sim.url });
    const expected = simulatedReply({ model: 'llama3.2', prompt: 'Once upon a time' });
    const answer = await ollama.generate({ model: 'llama3.2', prompt: 'Once upon a time' });
    expect(answer.response).toBe(expected.content);
    expect(answer.context).toHaveLength(expected.promptEvalCount + expected.evalCount);
    let text = '';
    for await (const part of await ollama.generate({
      model: 'llama3.2',
      prompt: 'Once upon a time',
      stream: true,
    })) {
      text += part.response;
    }
    expect(text).toBe(expected.content);
  });

  it('embeds, lists, shows, reports running models and the version', async () => {
    sim = await startOllamaSim();
    const ollama = new Ollama({ host: sim.url });
    const embedded = await ollama.embed({ model: 'nomic-embed-text', input: ['a', 'b'] });
    expect(embedded.embeddings).toHaveLength(2);
    expect(embedded.embeddings[0]).toHaveLength(768);
    const legacy = await ollama.embeddings({ model: 'nomic-embed-text', prompt: 'a' });
    expect(legacy.embedding).toHaveLength(768);
    const list = await ollama.list();
    expect(list.models.map((model) => model.name)).toContain('qwen3:latest');
    const shown = await ollama.show({ model: 'qwen3' });
    expect(shown.capabilities).toContain('thinking');
    expect(shown.details.family).toBe('qwen3');
    await ollama.generate({ model: 'llama3.2', prompt: '', keep_alive: '1h' });
    const running = await ollama.ps();
    expect(running.models.map((model) => model.name)).toEqual(['llama3.2:latest', 'nomic-embed-text:latest']);
    expect(Date.parse(String(running.models[0]?.expires_at))).toBeGreaterThan(Date.now());
    expect((await ollama.version()).version).toBe('0.33.0');
  });

  it('pulls with progress, copies, creates, pushes and deletes', async () => {
    sim = await startOllamaSim();
    const ollama = new Ollama({ host: sim.url });
    const statuses: string[] = [];
    let completed = 0;
    for await (const progress of await ollama.pull({ model: 'phi4', stream: true })) {
      statuses.push(progress.status);
      if (progress.total) completed = Math.max(completed, progress.completed ?? 0);
    }
    expect(statuses[0]).toBe('pulling manifest');
    expect(statuses.at(-1)).toBe('success');
    expect(completed).toBeGreaterThan(0);
    expect((await ollama.pull({ model: 'mistral' })).status).toBe('success');
    expect(await ollama.copy({ source: 'phi4', destination: 'phi4-copy' })).toEqual({ status: 'success' });
    expect(
      (await ollama.create({ model: 'storyteller', from: 'llama3.2', system: 'Tell stories.' })).status,
    ).toBe('success');
    expect((await ollama.push({ model: 'storyteller' })).status).toBe('success');
    expect(await ollama.delete({ model: 'phi4-copy' })).toEqual({ status: 'success' });
    expect((await ollama.list()).models.map((model) => model.name)).toEqual(
      expect.arrayContaining(['phi4:latest', 'mistral:latest', 'storyteller:latest']),
    );
  });

  it('raises ResponseError with status_code for errors before any output', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/generate', status: 503 }] });
    const ollama = new Ollama({ host: sim.url });
    const missing = await errorOf(ollama.chat({ model: 'nope', messages }));
    expect(missing.name).toBe('ResponseError');
    expect(missing.status_code).toBe(404);
    expect(missing.message).toBe("model 'nope' not found");
    const streamedMissing = await errorOf(ollama.chat({ model: 'nope', messages, stream: true }));
    expect(streamedMissing.status_code).toBe(404);
    const busy = await errorOf(ollama.generate({ model: 'llama3.2', prompt: 'x' }));
    expect(busy.status_code).toBe(503);
    expect(busy.message).toBe('server busy, please try again.  maximum pending requests exceeded');
    const thinking = await errorOf(ollama.chat({ model: 'llama3.2', messages, think: true }));
    expect(thinking.status_code).toBe(400);
    expect(thinking.message).toBe('"llama3.2" does not support thinking');
    const embed = await errorOf(ollama.embed({ model: 'nope', input: 'x' }));
    expect(embed.message).toBe('model "nope" not found, try pulling it first');
  });

  it('throws a plain Error for an error line inside the stream', async () => {
    sim = await startOllamaSim({
      faults: [
        {
          route: '/api/chat',
          kind: 'error-line',
          afterChunks: 3,
          message: 'an error was encountered while running the model: CUDA error',
        },
      ],
    });
    const ollama = new Ollama({ host: sim.url });
    const received: string[] = [];
    const failure = await errorOf(
      (async () => {
        for await (const part of await ollama.chat({ model: 'llama3.2', messages, stream: true }))
          received.push(part.message.content);
      })(),
    );
    expect(failure.name).toBe('Error');
    expect(failure.message).toBe('an error was encountered while running the model: CUDA error');
    expect(received).toHaveLength(3);
  });

  it('reports a stream that ends without the done line, and drops malformed lines with a warning', async () => {
    sim = await startOllamaSim({
      faults: [
        { route: '/api/chat', nth: 1, kind: 'no-done', afterChunks: 2 },
        { route: '/api/chat', nth: 2, kind: 'malformed-line', afterChunks: 1 },
      ],
    });
    const ollama = new Ollama({ host: sim.url });
    const noDone = await errorOf(
      (async () => {
        for await (const _part of await ollama.chat({ model: 'llama3.2', messages, stream: true })) {
          // consume
        }
      })(),
    );
    expect(noDone.message).toBe('Did not receive done or success response in stream.');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    let text = '';
    for await (const part of await ollama.chat({ model: 'llama3.2', messages, stream: true }))
      text += part.message.content;
    expect(warn).toHaveBeenCalledWith('invalid json: ', expect.any(String));
    expect(text).toBe(simulatedReply({ model: 'llama3.2', messages }).content);
  });

  it('aborts streams: the iterator rejects with an AbortError and the server frees the slot', async () => {
    sim = await startOllamaSim({ models: [{ name: 'slow', tokenDelayMs: 20, replyTokens: 200 }] });
    const ollama = new Ollama({ host: sim.url });
    const stream = await ollama.chat({ model: 'slow', messages, stream: true });
    let count = 0;
    const failure = await errorOf(
      (async () => {
        for await (const _part of stream) {
          count++;
          if (count === 3) ollama.abort();
        }
      })(),
    );
    expect(failure.name).toBe('AbortError');
    const deadline = Date.now() + 2000;
    while (sim.stats('slow').generating > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sim.stats('slow').generating).toBe(0);
    expect(sim.requests[0]?.outcome).toBe('client-closed');
  });

  it('surfaces a reset as a failed fetch', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'reset' }] });
    const ollama = new Ollama({ host: sim.url });
    const failure = await errorOf(ollama.chat({ model: 'llama3.2', messages }));
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.message).toBe('fetch failed');
  });
});
