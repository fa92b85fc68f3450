import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createOllama, createPipeline, DEFAULT_TIMEOUTS } from './create-ollama.js';
import {
  CircuitOpenError,
  DEFAULT_PHASE_BUDGETS,
  definePolicy,
  InvalidOptionError,
  Ollama,
  TimeoutError,
} from './index.js';

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

  it('takes one number as the Python client does: a limit on each wait, not on the whole answer', async () => {
    // 12 tokens 150 ms apart: 1.8 s in all, never silent for 1 s.
    sim = await startOllamaSim({ tokenDelayMs: 150, replyTokens: 12 });
    client = createOllama({ host: sim.url, timeout: 1_000, maxRetries: 0, telemetry: false });
    const started = Date.now();
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
    expect(Date.now() - started).toBeGreaterThan(1_000);
    await client.close();
    await sim.close();
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'hang' }] });
    client = createOllama({ host: sim.url, timeout: 1_000, maxRetries: 0, telemetry: false });
    const hung = Date.now();
    const error = (await client.chat(ask()).catch((caught: unknown) => caught)) as TimeoutError;
    expect(TimeoutError.is(error)).toBe(true);
    expect(['headers', 'first-token']).toContain(error.phase);
    expect(error.timeoutMs).toBe(1_000);
    expect(Date.now() - hung).toBeLessThan(3_000);
  });

  it('refuses a number that is surely seconds, naming the milliseconds meant', () => {
    expect(() => createOllama({ timeout: 30 })).toThrowError(
      /option "timeout" is in milliseconds and must be at least 1000 \(for 30 seconds write 30000\), got 30/,
    );
    expect(() => createOllama({ timeout: 999 })).toThrowError(InvalidOptionError);
    expect(() => createOllama({ timeout: 1_000, telemetry: false })).not.toThrow();
  });

  it('refuses budgets a timer cannot hold and takes Infinity or undefined for each', () => {
    for (const key of ['totalMs', 'attemptMs', 'connectMs', 'headersMs', 'firstTokenMs', 'idleMs']) {
      expect(() => createOllama({ timeout: { [key]: 2_147_483_648 } })).toThrowError(
        new RegExp(
          `"${key}" must be a number of milliseconds from 1 to 2147483647, or Infinity for no limit`,
        ),
      );
      expect(() =>
        createOllama({ timeout: { [key]: Number.POSITIVE_INFINITY }, telemetry: false }),
      ).not.toThrow();
      expect(() => createOllama({ timeout: { [key]: undefined }, telemetry: false })).not.toThrow();
    }
    expect(() => createOllama({ timeout: 2_147_483_648 })).toThrowError(/"timeout"/);
  });

  it('switches the whole-call deadline off with totalMs: Infinity', async () => {
    sim = await startOllamaSim({ tokenDelayMs: 100, replyTokens: 8 });
    client = createOllama({
      host: sim.url,
      timeout: { totalMs: Number.POSITIVE_INFINITY, idleMs: Number.POSITIVE_INFINITY },
      telemetry: false,
    });
    await expect(client.chat(ask())).resolves.toMatchObject({ done: true });
  });

  it("lets a call's own budgets win over the client's", async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'hang' }] });
    client = createOllama({ host: sim.url, timeout: { firstTokenMs: 200 }, maxRetries: 0, telemetry: false });
    const started = Date.now();
    const error = (await client
      .chat(ask(), { timeout: { firstTokenMs: 700 } })
      .catch((caught: unknown) => caught)) as TimeoutError;
    expect(error.phase).toBe('first-token');
    expect(error.timeoutMs).toBe(700);
    expect(Date.now() - started).toBeGreaterThanOrEqual(690);
    await client.close();
    await sim.close();
    // A slow answer (about 800 ms) under a client total of 300 ms passes with the call's own total.
    sim = await startOllamaSim({ tokenDelayMs: 100, replyTokens: 8 });
    client = createOllama({ host: sim.url, timeout: { totalMs: 300 }, maxRetries: 0, telemetry: false });
    await expect(client.chat(ask())).rejects.toMatchObject({ phase: 'total', timeoutMs: 300 });
    await expect(
      client.chat(ask(), { timeout: { totalMs: Number.POSITIVE_INFINITY } }),
    ).resolves.toMatchObject({ done: true });
    await expect(client.chat(ask(), { timeout: { totalMs: 5_000 } })).resolves.toMatchObject({ done: true });
    const short = (await client
      .generate({ model: 'llama3.2', prompt: 'hi' }, { timeout: { totalMs: 150 } })
      .catch((caught: unknown) => caught)) as TimeoutError;
    expect(short.phase).toBe('total');
    expect(short.timeoutMs).toBe(150);
  });

  it("validates a call's budgets like the client's", async () => {
    sim = await startOllamaSim();
    client = createOllama({ host: sim.url, telemetry: false });
    await expect(client.chat(ask(), { timeout: 30 })).rejects.toThrowError(
      /ollama.chat\(\): option "timeout" is in milliseconds/,
    );
    await expect(client.list({ timeout: { totalMs: 2 ** 31 } })).rejects.toThrowError(/"totalMs"/);
    await expect(
      client.embed({ model: 'llama3.2', input: 'x' }, { timeout: { idle: 5 } as never }),
    ).rejects.toThrowError(InvalidOptionError);
    expect(sim.requests).toHaveLength(0);
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

  it('reports its effective budgets and the worst case with its retries', async () => {
    // The Python client's Client(timeout=(5, 120)) with max_retries=2.
    const python = createOllama({
      timeout: { connectMs: 5_000, headersMs: 120_000, firstTokenMs: 120_000, idleMs: 120_000 },
      maxRetries: 2,
      telemetry: false,
    });
    expect(python.timeouts()).toEqual({
      connectMs: 5_000,
      headersMs: 120_000,
      firstTokenMs: 120_000,
      idleMs: 120_000,
      attemptMs: Number.POSITIVE_INFINITY,
      totalMs: 600_000,
      maxAttempts: 3,
      maxDelayMs: 10_000,
      worstCaseMs: 3 * 120_000 + 2 * 10_000,
    });
    // The default total deadline caps the worst case; a call's own budgets change the report.
    const defaults = createOllama({ maxRetries: 2 });
    expect(defaults.timeouts()).toMatchObject({ maxAttempts: 3, totalMs: 600_000, worstCaseMs: 600_000 });
    expect(defaults.timeouts({ timeout: { totalMs: Number.POSITIVE_INFINITY } }).worstCaseMs).toBe(
      3 * 300_000 + 2 * 10_000,
    );
    expect(defaults.timeouts({ timeout: 30_000 })).toMatchObject({
      connectMs: 30_000,
      idleMs: 30_000,
      worstCaseMs: 3 * 30_000 + 2 * 10_000,
    });
    expect(createOllama({ maxRetries: 0, timeout: { attemptMs: 45_000 } }).timeouts()).toMatchObject({
      attemptMs: 45_000,
      maxAttempts: 1,
      worstCaseMs: 45_000,
    });
    // A bare client: one attempt, the transport's defaults.
    expect(new Ollama().timeouts()).toMatchObject({
      maxAttempts: 1,
      totalMs: Number.POSITIVE_INFINITY,
      worstCaseMs: 300_000,
    });
    await Promise.all([python.close(), defaults.close()]);
  });

  it('reads its phase budgets from the one defaults table, as a bare client does', async () => {
    const phases = (report: Record<string, number>) => ({
      connectMs: report.connectMs,
      headersMs: report.headersMs,
      firstTokenMs: report.firstTokenMs,
      idleMs: report.idleMs,
    });
    const bare = new Ollama();
    const recommended = createOllama({ telemetry: false });
    expect(phases({ ...bare.timeouts() })).toEqual(DEFAULT_PHASE_BUDGETS);
    expect(phases({ ...recommended.timeouts() })).toEqual(DEFAULT_PHASE_BUDGETS);
    expect(DEFAULT_TIMEOUTS).toMatchObject(DEFAULT_PHASE_BUDGETS);
    await Promise.all([bare.close(), recommended.close()]);
  });

  it('exposes the parts of the pipeline for their events', () => {
    const pipeline = createPipeline({ breaker: false });
    expect(pipeline.breaker).toBeUndefined();
    expect(pipeline.bulkhead?.limit).toBe(4);
    expect(pipeline.retry.maxAttempts).toBe(3);
  });
});
