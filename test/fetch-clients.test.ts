import { TimeoutError, wrap } from '@bulwark/core';
import { type BulwarkFetch, createFetch } from '@bulwark/fetch';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { Ollama as OfficialOllama } from 'ollama';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';

let sim: OllamaSim | undefined;
let fetch: BulwarkFetch | undefined;

afterEach(async () => {
  await fetch?.close();
  await sim?.close();
  fetch = undefined;
  sim = undefined;
});

/** Retries, with a first-token budget per attempt; completions are declared safe to replay. */
function make(firstTokenMs = 10_000): BulwarkFetch {
  return createFetch({
    policy: wrap(retry({ maxAttempts: 3, initialDelayMs: 10 }), timeout({ firstTokenMs })),
    retryNonIdempotent: true,
  });
}

const busy = (route: string) => ({ route, status: 503, nth: 1, times: 1 });
const hang = (route: string) => ({ route, kind: 'hang' as const });

describe('@bulwark/fetch with the official ollama package', () => {
  it('retries a 503 and answers', async () => {
    sim = await startOllamaSim({ faults: [busy('/api/chat')] });
    fetch = make();
    const ollama = new OfficialOllama({ host: sim.url, fetch });
    const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.message.content.length).toBeGreaterThan(0);
    expect(sim.requests.map((request) => request.status)).toEqual([503, 200]);
  });

  it('ends a hung call at its first-token budget', async () => {
    sim = await startOllamaSim({ faults: [hang('/api/chat')] });
    fetch = make(200);
    const ollama = new OfficialOllama({ host: sim.url, fetch });
    const error = await ollama
      .chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('first-token');
    expect(sim.requests).toHaveLength(3);
  });
});

describe('@bulwark/fetch with the openai package', () => {
  const client = (url: string, bulwarkFetch: BulwarkFetch) =>
    new OpenAI({ baseURL: `${url}/v1`, apiKey: 'ollama', fetch: bulwarkFetch, maxRetries: 0 });

  it('retries a 503, not streamed and streamed with server-sent events', async () => {
    sim = await startOllamaSim({ faults: [busy('/v1/chat/completions')] });
    fetch = make();
    const openai = client(sim.url, fetch);
    const completion = await openai.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    sim.setFaults([busy('/v1/chat/completions')]);
    const stream = await openai.chat.completions.create({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(sim.requests.map((request) => request.status)).toEqual([503, 200, 503, 200]);
  });

  it('ends a hung call at its first-token budget, which the SDK reports as its own timeout', async () => {
    sim = await startOllamaSim({ faults: [hang('/v1/chat/completions')] });
    fetch = make(200);
    const started = Date.now();
    const error = await client(sim.url, fetch)
      .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught: unknown) => caught);
    // openai turns a thrown error named like a timeout into its own class, which its users handle.
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(sim.requests).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('@bulwark/fetch called directly', () => {
  it('retries a 503 and answers', async () => {
    sim = await startOllamaSim({ faults: [busy('/api/tags')] });
    fetch = make();
    const response = await fetch(`${sim.url}/api/tags`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { models: unknown[] }).models.length).toBeGreaterThan(0);
    expect(sim.requests.map((request) => request.status)).toEqual([503, 200]);
  });

  it('ends a hung call at its first-token budget', async () => {
    sim = await startOllamaSim({ faults: [hang('/api/tags')] });
    fetch = make(200);
    const error = await fetch(`${sim.url}/api/tags`).catch((caught: unknown) => caught);
    expect((error as TimeoutError).phase).toBe('first-token');
  });
});
