import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { createOllama } from 'bulwark';
import { afterEach, describe, expect, it } from 'vitest';

const sims: OllamaSim[] = [];
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function sim(options: Parameters<typeof startOllamaSim>[0]): Promise<OllamaSim> {
  const started = await startOllamaSim(options);
  sims.push(started);
  return started;
}

const ask = (content: string, model = 'llama3.2') => ({ model, messages: [{ role: 'user', content }] });
const chats = (server: OllamaSim) =>
  server.requests.filter(
    (request) =>
      request.route === '/api/chat' && ((request.body as { messages?: unknown[] }).messages?.length ?? 0) > 0,
  ).length;
const loads = (server: OllamaSim) =>
  server.requests.filter(
    (request) => request.route === '/api/generate' && (request.body as { prompt?: unknown }).prompt === '',
  ).length;

/** Runs `count` tasks, `concurrency` at a time. */
async function pool<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

describe('a fleet of three hosts: warm, cold, failing', () => {
  it('200 calls at concurrency 16 all succeed; the failing host is ejected after 5 failures; the cold host gets no call', async () => {
    const warm = await sim({ models: ['llama3.2'], numParallel: 4, replyTokens: [5, 10] });
    const cold = await sim({ models: ['llama3.2'], loadMs: 2_000, replyTokens: [5, 10] });
    const failing = await sim({
      models: ['llama3.2'],
      replyTokens: [5, 10],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    client = createOllama({
      hosts: [{ host: warm.url, capacity: 4 }, cold.url, failing.url],
      maxRetries: 2,
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
      telemetry: false,
      breaker: false,
    });
    await client.load('llama3.2', { host: warm.url });
    await client.load('llama3.2', { host: failing.url });
    const answers = await pool(200, 16, (index) => client!.chat(ask(`question ${index}`)));
    expect(answers).toHaveLength(200);
    for (const [index, answer] of answers.entries()) {
      expect(answer.message.content).toBe(warm.simulatedReply(ask(`question ${index}`)).content);
    }
    const snapshot = client.fleet();
    const failingStatus = snapshot.hosts.find((host) => host.host === failing.url);
    expect(failingStatus?.state).toBe('ejected');
    expect(failingStatus?.ejections).toBe(1);
    // Five failures eject it; calls already sent to it when it was ejected may add a few.
    expect(chats(failing)).toBeGreaterThanOrEqual(5);
    expect(chats(failing)).toBeLessThanOrEqual(12);
    expect(chats(cold)).toBe(0);
    expect(loads(cold)).toBe(0);
    expect(chats(warm)).toBe(200);
    expect(snapshot.outstanding).toBe(0);
    expect(snapshot.hosts.find((host) => host.host === warm.url)?.warmModels).toEqual(['llama3.2']);
  }, 30_000);

  it('a burst for a model warm nowhere loads it on one host only', async () => {
    const a = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    const b = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    const c = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    client = new Ollama({ hosts: [a.url, b.url, c.url] });
    await Promise.all(Array.from({ length: 16 }, (_, index) => client!.chat(ask(`burst ${index}`))));
    expect(a.stats().loads + b.stats().loads + c.stats().loads).toBe(1);
    const first = [a, b, c].find((server) => server.stats().loads === 1) as OllamaSim;
    expect(chats(first)).toBe(16);
    // A second model goes to a host that holds none rather than evicting the first one's.
    await client.chat(ask('other model', 'qwen3'));
    expect(first.stats('qwen3').loads).toBe(0);
    expect(a.stats().loads + b.stats().loads + c.stats().loads).toBe(2);
  }, 30_000);

  it('the cold host loads once when the warm one is ejected', async () => {
    const warm = await sim({ models: ['llama3.2'] });
    const cold = await sim({ models: ['llama3.2'], loadMs: 500 });
    client = new Ollama({
      hosts: [warm.url, cold.url],
      fleet: { consecutiveFailures: 1, maxEjectionPercent: 50 },
      policy: retry({ maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 }),
    });
    await client.load('llama3.2', { host: warm.url });
    warm.setFaults([{ route: '/api/chat', kind: 'reset' }]);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) => client!.chat(ask(`moved ${index}`))),
    );
    expect(answers.map((answer) => answer.message.content)).toEqual(
      Array.from({ length: 8 }, (_, index) => cold.simulatedReply(ask(`moved ${index}`)).content),
    );
    expect(cold.stats().loads).toBe(1);
    expect(client.fleet().hosts[0]?.state).toBe('ejected');
  }, 30_000);
});

describe('failover before commit, never after', () => {
  it('a reset before output is retried on another host, with the same answer', async () => {
    const first = await sim({ models: ['llama3.2'], faults: [{ route: '/api/chat', kind: 'reset' }] });
    const second = await sim({ models: ['llama3.2'] });
    client = new Ollama({
      hosts: [first.url, second.url],
      policy: wrap(retry({ maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 })),
    });
    await client.load('llama3.2', { host: first.url });
    const request = ask('fail over');
    const answer = await client.chat(request);
    expect(answer.message.content).toBe(second.simulatedReply(request).content);
    expect(chats(first)).toBe(1);
    expect(chats(second)).toBe(1);
    expect(first.requests.find((entry) => entry.route === '/api/chat')?.outcome).toBe('destroyed');
  });

  it('a reset after output is not replayed on another host', async () => {
    const first = await sim({
      models: ['llama3.2'],
      replyTokens: 10,
      faults: [{ route: '/api/chat', kind: 'reset', afterChunks: 3 }],
    });
    const second = await sim({ models: ['llama3.2'], replyTokens: 10 });
    client = new Ollama({
      hosts: [first.url, second.url],
      policy: retry({ maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 }),
    });
    await client.load('llama3.2', { host: first.url });
    const request = ask('no replay');
    const stream = await client.chat({ ...request, stream: true });
    const received: string[] = [];
    const failure = await (async () => {
      try {
        for await (const chunk of stream) received.push(chunk.message.content);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toMatchObject({ code: 'ERR_BULWARK_CONNECTION', committed: true });
    expect(received).toEqual(first.simulatedReply(request).chunks.slice(0, 3));
    expect(chats(second)).toBe(0);
  });
});
