import { circuitBreaker, type OutcomeEvent } from '@bulwark/breaker';
import { CircuitOpenError, ResponseError, TimeoutError, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { createOllama, createPipeline } from 'bulwark';
import { afterEach, describe, expect, it } from 'vitest';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

const ask = (model = 'llama3.2', keep_alive?: string) => ({
  model,
  messages: [{ role: 'user', content: 'hello' }],
  ...(keep_alive === undefined ? {} : { keep_alive }),
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isLoadRequest = (body: unknown) =>
  typeof body === 'object' && body !== null && (body as { prompt?: unknown }).prompt === '';

describe('a cold model is loaded once, by the client', () => {
  it('10 concurrent calls with a 1 s first-token budget and a 3 s load: one load, all succeed, the breaker stays closed', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 3_000 });
    const pipeline = createPipeline({ timeout: { firstTokenMs: 1_000 }, maxRetries: 2, telemetry: false });
    const outcomes: OutcomeEvent[] = [];
    pipeline.breaker?.onOutcome((event) => outcomes.push(event));
    client = new Ollama({ host: sim.url, policy: pipeline.policy });
    const answers = await Promise.all(Array.from({ length: 10 }, () => client?.chat(ask())));
    expect(answers.every((answer) => answer?.done === true)).toBe(true);
    expect(sim.stats().loads).toBe(1);
    expect(pipeline.breaker?.getState('llama3.2').state).toBe('closed');
    expect(outcomes.filter((event) => event.outcome === 'failure')).toEqual([]);
    // the load is an empty-prompt generate; each call then went out once
    const loads = sim.requests.filter((request) => isLoadRequest(request.body));
    expect(loads).toHaveLength(1);
    expect(loads[0]?.route).toBe('/api/generate');
    expect(sim.requests.filter((request) => request.route === '/api/chat')).toHaveLength(10);
  }, 20_000);

  it('a 1.5 s total deadline fails at about 1.5 s with phase load; a call 2 s later succeeds without a second load', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 3_000 });
    client = createOllama({ host: sim.url, timeout: { totalMs: 1_500 }, telemetry: false });
    const started = Date.now();
    const error = await client.chat(ask()).catch((caught: unknown) => caught);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'load', timeoutMs: 1_500, retryable: false });
    expect((error as TimeoutError).load).toMatchObject({ model: 'llama3.2', host: sim.url });
    expect((error as Error).message).toContain('waiting for model "llama3.2" to load on');
    expect((error as Error).message).toContain('the load continues');
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(2_500);
    expect(client.modelStates()).toMatchObject([{ model: 'llama3.2', state: 'loading' }]);
    await sleep(2_000);
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
    expect(sim.stats().loads).toBe(1);
    expect(sim.requests.filter((request) => request.route === '/api/chat')).toHaveLength(1);
  }, 20_000);

  it('a retry after an attempt budget joins the same load', async () => {
    // Attempts of 700 ms against a 1.6 s load: two end while the model loads, the third has
    // about 500 ms left after the load for its answer.
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 1_600 });
    const errors: unknown[] = [];
    const retries = retry({ maxAttempts: 5, initialDelayMs: 10, maxDelayMs: 20 });
    retries.onRetry((event) => errors.push(event.error));
    client = new Ollama({ host: sim.url, policy: wrap(retries, timeout({ attemptMs: 700 })) });
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.map((error) => (error as TimeoutError).phase)).toEqual(errors.map(() => 'load'));
    expect(sim.stats().loads).toBe(1);
  }, 20_000);

  it('after the keep-alive expires the next call loads again; unload() makes the next call load', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 100 });
    client = new Ollama({ host: sim.url });
    await client.chat(ask('llama3.2', '1s'));
    await client.chat(ask('llama3.2', '1s'));
    expect(sim.stats().loads).toBe(1);
    await sleep(1_300);
    expect(client.modelStates()).toMatchObject([{ model: 'llama3.2', state: 'cold' }]);
    await client.chat(ask('llama3.2', '1s'));
    expect(sim.stats().loads).toBe(2);
    await client.unload('llama3.2');
    expect(client.modelStates()).toMatchObject([{ state: 'cold' }]);
    await client.chat(ask());
    expect(sim.stats().loads).toBe(3);
    expect(sim.requests.filter((request) => isLoadRequest(request.body))).toHaveLength(4); // 3 loads, 1 unload
  }, 20_000);

  it('10 s of steady calls through createOllama() with a 0.8 s first-token budget and a 2 s load: one load, every call succeeds, no circuit-open error', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 2_000 });
    client = createOllama({ host: sim.url, timeout: { firstTokenMs: 800 }, telemetry: false });
    const calls: Promise<unknown>[] = [];
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      calls.push(client.chat(ask()).catch((error: unknown) => error));
      await sleep(250);
    }
    const results = await Promise.all(calls);
    expect(results.filter((result) => result instanceof CircuitOpenError)).toEqual([]);
    expect(results.filter((result) => result instanceof Error)).toEqual([]);
    expect(results.length).toBeGreaterThan(20);
    expect(sim.stats().loads).toBe(1);
  }, 30_000);

  it("a failed load fails every waiting caller with the server's error and counts once for the breaker", async () => {
    const message = 'llama-server process has terminated: exit status 2';
    sim = await startOllamaSim({
      models: ['llama3.2'],
      loadMs: 300,
      faults: [
        {
          route: '/api/generate',
          when: (request) => isLoadRequest(request.body),
          delayMs: 300,
          status: 500,
          message,
          times: 1,
        },
      ],
    });
    const breaker = circuitBreaker({ key: 'model' });
    const outcomes: OutcomeEvent[] = [];
    breaker.onOutcome((event) => outcomes.push(event));
    client = new Ollama({ host: sim.url, policy: breaker });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => client?.chat(ask()).catch((error: unknown) => error)),
    );
    for (const result of results) {
      expect(result).toBeInstanceOf(ResponseError);
      expect(result).toMatchObject({ status: 500, serverMessage: message });
    }
    expect(new Set(results).size).toBe(5); // each caller has its own error object
    expect(outcomes.map((event) => event.outcome).sort()).toEqual([
      'failure',
      'ignore',
      'ignore',
      'ignore',
      'ignore',
    ]);
    expect(sim.requests.filter((request) => request.route === '/api/chat')).toHaveLength(0);
    // the next call loads again, and succeeds
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
    expect(sim.stats().loads).toBe(1);
  }, 20_000);

  it('a warm model pays no extra round trip', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'] });
    client = new Ollama({ host: sim.url });
    await client.chat(ask());
    expect(sim.requests).toHaveLength(2); // the load, then the call
    for (let i = 0; i < 5; i++) await client.chat(ask());
    for await (const _ of await client.chat({ ...ask(), stream: true })) {
      // read it all
    }
    expect(sim.requests).toHaveLength(8);
    expect(sim.requests.slice(2).every((request) => request.route === '/api/chat')).toBe(true);
  });
});
