import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createOllama, createPipeline } from './create-ollama.js';
import { CircuitOpenError, definePolicy, InvalidOptionError, Ollama, TimeoutError } from './index.js';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

const ask = (model = 'llama3.2') => ({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('createOllama()', () => {
  it('retries a 503 storm and answers', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', status: 503, nth: 1, times: 2 }] });
    client = createOllama({ host: sim.url, retry: { initialDelayMs: 10 }, telemetry: false });
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
    expect(sim.requests.filter((request) => request.route === '/api/chat')).toHaveLength(3);
  });

  it('takes milliseconds as the total deadline over every attempt', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'hang' }] });
    client = createOllama({ host: sim.url, timeout: 600, maxRetries: 5, retry: { initialDelayMs: 10 } });
    const started = Date.now();
    const error = (await client.chat(ask()).catch((caught: unknown) => caught)) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.phase).toBe('total');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('applies phase budgets to each attempt', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'hang' }] });
    client = createOllama({
      host: sim.url,
      timeout: { firstTokenMs: 200 },
      maxRetries: 1,
      retry: { initialDelayMs: 10 },
    });
    const error = (await client.chat(ask()).catch((caught: unknown) => caught)) as TimeoutError;
    expect(error.phase).toBe('first-token');
    expect(sim.requests.filter((request) => request.route === '/api/chat')).toHaveLength(2);
  });

  it('passes timeout.loadMs and modelState to the client, and rejects a bad loadMs naming it', async () => {
    expect(() => createOllama({ timeout: { loadMs: 0 } })).toThrow(/option "loadMs"/);
    expect(() => createOllama({ modelState: 'no' as never })).toThrow(/option "modelState"/);
    sim = await startOllamaSim({ loadMs: 2_000 });
    client = createOllama({ host: sim.url, timeout: { loadMs: 300 }, maxRetries: 0, telemetry: false });
    await expect(client.chat(ask())).rejects.toMatchObject({ phase: 'load', timeoutMs: 300 });
    await client.close();
    sim.clearRequests();
    client = createOllama({ host: sim.url, modelState: false, telemetry: false });
    await client.chat(ask());
    expect(sim.requests.map((request) => request.route)).toEqual(['/api/chat']);
  });

  it('isolates a failing model with its per-model breaker', async () => {
    sim = await startOllamaSim({ models: ['llama3.2', 'qwen3'], faults: [{ model: 'qwen3', status: 500 }] });
    client = createOllama({ host: sim.url, maxRetries: 0, breaker: { halfOpenAfterMs: 60_000 } });
    for (let i = 0; i < 5; i++) await client.chat(ask('qwen3')).catch(() => {});
    await expect(client.chat(ask('qwen3'))).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(client.chat(ask('llama3.2'))).resolves.toMatchObject({ done: true });
  });

  it('puts the breaker inside retry: an open breaker ends the call without a retry or a request', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', status: 500 }] });
    const pipeline = createPipeline({ maxRetries: 2, retry: { initialDelayMs: 1 }, telemetry: false });
    client = new Ollama({ host: sim.url, policy: pipeline.policy });
    // Two calls of three attempts: the breaker counts attempts, so its five failures are reached.
    await client.chat(ask()).catch(() => {});
    await client.chat(ask()).catch(() => {});
    expect(pipeline.breaker!.getState('llama3.2').state).toBe('open');
    let retries = 0;
    pipeline.retry.onRetry(() => retries++);
    const requests = sim.requests.length;
    await expect(client.chat(ask())).rejects.toBeInstanceOf(CircuitOpenError);
    expect(retries).toBe(0);
    expect(sim.requests.length).toBe(requests);
    expect(pipeline.bulkhead!.stats('llama3.2')).toMatchObject({ running: 0, queued: 0 });
  });

  it('caps concurrent generations per model with its bulkhead', async () => {
    sim = await startOllamaSim({ numParallel: 8, tokenDelayMs: 2, replyTokens: 5 });
    client = createOllama({ host: sim.url, bulkhead: { limit: 2, queue: 100 } });
    await Promise.all(Array.from({ length: 12 }, () => client!.chat(ask())));
    expect(sim.stats('llama3.2').maxInFlight).toBe(2);
  });

  it('lets `policy` replace the whole pipeline', async () => {
    sim = await startOllamaSim();
    const seen: string[] = [];
    const policy = definePolicy((context, next) => {
      seen.push(String(context.attributes.operation));
      return next(context);
    });
    client = createOllama({ host: sim.url, policy });
    await client.version();
    expect(seen).toEqual(['version']);
  });

  it('instruments a replacement policy unless telemetry is false', async () => {
    sim = await startOllamaSim();
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    try {
      const policy = definePolicy((context, next) => next(context));
      client = createOllama({ host: sim.url, policy });
      await client.version();
      const quiet = createOllama({ host: sim.url, policy, telemetry: false });
      await quiet.version();
      await quiet.close();
      expect(exporter.getFinishedSpans().filter((span) => span.name === 'bulwark.attempt')).toHaveLength(1);
    } finally {
      trace.disable();
    }
  });

  it.each([
    [{ retry: { maxAttempts: 4 } }, 'retry.maxAttempts'],
    [{ maxRetries: -1 }, 'maxRetries'],
    [{ timeout: Number.NaN }, 'timeout'],
    [{ timeout: { firstTokenMs: -5 } }, 'firstTokenMs'],
    [{ timeout: { firstToken: 5 } }, 'firstToken'],
    [{ breaker: true }, 'breaker'],
    [{ retries: 2 }, 'retries'],
  ])('rejects %j naming the option', (options, option) => {
    expect(() => createOllama(options as never)).toThrowError(InvalidOptionError);
    expect(() => createOllama(options as never)).toThrowError(new RegExp(`"${option}"`));
  });

  it('exposes the parts of the pipeline for their events', () => {
    const pipeline = createPipeline({ breaker: false });
    expect(pipeline.breaker).toBeUndefined();
    expect(pipeline.bulkhead?.limit).toBe(4);
    expect(pipeline.retry.maxAttempts).toBe(3);
  });
});
