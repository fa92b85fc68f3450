import { ConsecutiveBreaker, circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { BulkheadRejectedError, CircuitOpenError, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, describe, expect, it } from 'vitest';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

const ask = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello' }] });

describe('circuitBreaker() with the Ollama client', () => {
  it('isolates a failing model while the other keeps answering, and closes again after a probe', async () => {
    sim = await startOllamaSim({ models: ['llama3.2', 'qwen3'], faults: [{ model: 'qwen3', status: 500 }] });
    const breaker = circuitBreaker({
      key: 'model',
      breaker: () => new ConsecutiveBreaker(3),
      halfOpenAfterMs: 300,
    });
    client = new Ollama({ host: sim.url, policy: breaker });
    for (let i = 0; i < 3; i++)
      await expect(client.chat(ask('qwen3'))).rejects.toMatchObject({ status: 500 });
    const before = sim.requests.length;
    const started = Date.now();
    await expect(client.chat(ask('qwen3'))).rejects.toBeInstanceOf(CircuitOpenError);
    expect(Date.now() - started).toBeLessThan(100);
    expect(sim.requests.length).toBe(before);
    for (let i = 0; i < 5; i++) {
      const answer = await client.chat(ask('llama3.2'));
      expect(answer.message.content.length).toBeGreaterThan(0);
    }
    sim.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(client.chat(ask('qwen3'))).resolves.toMatchObject({ done: true });
    expect(breaker.getState('qwen3').state).toBe('closed');
  });
});

describe('bulkhead() with the Ollama client', () => {
  it('never lets more than the limit reach the server under 500 concurrent calls', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], numParallel: 16, tokenDelayMs: 1, replyTokens: 5 });
    const limit = bulkhead({ key: 'model', limit: 4, queue: 50 });
    client = new Ollama({ host: sim.url, policy: limit });
    const outcomes = await Promise.all(
      Array.from({ length: 500 }, () =>
        client!.chat(ask('llama3.2')).then(
          () => 'ok',
          (error: unknown) => (error instanceof BulkheadRejectedError ? 'rejected' : error),
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(54);
    expect(outcomes.filter((outcome) => outcome === 'rejected')).toHaveLength(446);
    expect(sim.stats('llama3.2').maxInFlight).toBeLessThanOrEqual(4);
    expect(sim.stats('llama3.2').maxInFlight).toBe(4);
  });

  it('holds a slot for a stream until it is read to the end or abandoned', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], numParallel: 8, tokenDelayMs: 20, replyTokens: 10 });
    const limit = bulkhead({ limit: 2, queue: 5 });
    client = new Ollama({ host: sim.url, policy: wrap(limit) });
    const first = await client.chat({ ...ask('llama3.2'), stream: true });
    const second = await client.chat({ ...ask('llama3.2'), stream: true });
    let thirdDone = false;
    const third = client.chat(ask('llama3.2')).then((answer) => {
      thirdDone = true;
      return answer;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(thirdDone).toBe(false);
    expect(limit.stats()).toMatchObject({ running: 2, queued: 1 });
    for await (const _ of first) break; // abandon the first stream
    await third;
    expect(thirdDone).toBe(true);
    let chunks = 0;
    for await (const _ of second) chunks++;
    expect(chunks).toBe(11);
    expect(limit.stats()).toMatchObject({ running: 0, queued: 0 });
  });
});
