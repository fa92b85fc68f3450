import { circuitBreaker } from '@bulwark/breaker';
import { CircuitOpenError, ErrorCode, type Policy, StreamError, TimeoutError, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConsecutiveBreaker, ConstantBackoff } from 'cockatiel';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInstrumentation, instrument, startSpanHook } from './index.js';
import { type Harness, registerOtel, spanStrings, unregisterOtel } from './test-support/otel-harness.js';
import { traceContextPropagator } from './test-support/trace-context-propagator.js';

/* The real client (`new Ollama({ policy, instrument })`) against the simulator. */

const PROMPT = 'Tell me about the secret garden (secret prompt)';
const SECRET_HEADER = 'Bearer super-secret-header-value';

let otel: Harness;
let sim: OllamaSim;
let undiciInstrumentation: UndiciInstrumentation;
const clients: Ollama[] = [];

beforeAll(async () => {
  otel = registerOtel();
  propagation.setGlobalPropagator(traceContextPropagator);
  undiciInstrumentation = new UndiciInstrumentation({ startSpanHook });
  undiciInstrumentation.setTracerProvider(otel.tracerProvider);
  undiciInstrumentation.enable();
  sim = await startOllamaSim({ replyTokens: 8 });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  undiciInstrumentation.disable();
  await sim.close();
  await unregisterOtel(otel);
});

beforeEach(() => {
  otel.exporter.reset();
  sim.clearFaults();
  sim.clearRequests();
});

const fastRetry = (maxAttempts = 3) => retry({ maxAttempts, backoff: new ConstantBackoff(0), budget: false });

function client(policy: Policy = fastRetry()): Ollama {
  // No owned model loads: each call's requests are exactly its attempts.
  const ollama = new Ollama({
    host: sim.url,
    policy,
    instrument,
    headers: { authorization: SECRET_HEADER },
    modelState: false,
  });
  clients.push(ollama);
  return ollama;
}

const messages = [{ role: 'user', content: PROMPT }];
const named = (name: string) => otel.spans().filter((span) => span.name === name);
const callSpan = (name = 'chat llama3.2') => {
  const spans = named(name);
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
};
const attempts = () =>
  named('bulwark.attempt').sort(
    (a, b) => Number(a.attributes['bulwark.attempt.number']) - Number(b.attributes['bulwark.attempt.number']),
  );
const httpSpans = () => otel.spans().filter((span) => span.kind === SpanKind.CLIENT && span.name === 'POST');
const endMs = (span: ReadableSpan) => span.endTime[0] * 1000 + span.endTime[1] / 1e6;
const now = () => performance.timeOrigin + performance.now();

describe('the Ollama client with instrument', () => {
  it('traces a chat retried twice then succeeding, with HTTP spans under the attempts and one traceparent each', async () => {
    sim.setFaults([{ route: '/api/chat', status: 503, times: 2 }]);
    const answer = await client().chat({
      model: 'llama3.2',
      messages,
      options: { temperature: 0.3, num_predict: 64 },
    });
    expect(answer.done).toBe(true);

    const call = callSpan();
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes['error.type']).toBeUndefined();
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': 'llama3.2',
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.response.model': 'llama3.2',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.output_tokens': 8,
      'server.address': '127.0.0.1',
      'server.port': sim.port,
      'bulwark.attempt.count': 3,
    });
    expect(call.attributes['gen_ai.request.stream']).toBeUndefined();
    expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(
      call.events.filter((event) => event.name === 'bulwark.retry').map((event) => event.attributes),
    ).toEqual([
      expect.objectContaining({ 'bulwark.attempt.number': 0, 'error.type': '503' }),
      expect.objectContaining({ 'bulwark.attempt.number': 1, 'error.type': '503' }),
    ]);

    const tries = attempts();
    expect(tries.map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
    expect(tries.map((span) => span.attributes['error.type'])).toEqual(['503', '503', undefined]);
    for (const attempt of tries) expect(attempt.parentSpanContext?.spanId).toBe(call.spanContext().spanId);

    const http = httpSpans();
    expect(http).toHaveLength(3);
    for (const attempt of tries) {
      const children = http.filter((span) => span.parentSpanContext?.spanId === attempt.spanContext().spanId);
      expect(children).toHaveLength(1);
      const number = attempt.attributes['bulwark.attempt.number'] as number;
      expect(children[0]?.attributes['http.request.resend_count']).toBe(number === 0 ? undefined : number);
    }
    expect(sim.requests).toHaveLength(3);
    for (const record of sim.requests) {
      const traceparent = record.headers.traceparent;
      expect(typeof traceparent).toBe('string');
      expect(http.map((span) => span.spanContext().spanId)).toContain((traceparent as string).split('-')[2]);
    }
  });

  it('traces a breaker rejection: two failed attempts, then one refused before dispatch', async () => {
    sim.setFaults([{ route: '/api/chat', status: 500, message: 'model runner has unexpectedly stopped' }]);
    const breaker = circuitBreaker({
      key: 'model',
      breaker: () => new ConsecutiveBreaker(2),
      halfOpenAfterMs: 60_000,
    });
    await expect(
      client(wrap(fastRetry(3), breaker)).chat({ model: 'llama3.2', messages }),
    ).rejects.toBeInstanceOf(CircuitOpenError);
    const call = callSpan();
    expect(call.attributes['error.type']).toBe(ErrorCode.CircuitOpen);
    expect(call.attributes['bulwark.attempt.count']).toBe(3);
    expect(attempts().map((span) => span.attributes['error.type'])).toEqual([
      '500',
      '500',
      ErrorCode.CircuitOpen,
    ]);
    // Only the two dispatched attempts reached the server, each with its HTTP span.
    expect(sim.requests).toHaveLength(2);
    expect(httpSpans()).toHaveLength(2);
    expect(call.events.map((event) => event.name)).toContain('bulwark.circuit_breaker.state_change');
  });

  it('ends a streamed call span after the last chunk arrived, with usage and time to first chunk', async () => {
    sim.setFaults([{ route: '/api/chat', tokenDelayMs: 15 }]);
    const stream = await client().chat({ model: 'llama3.2', messages, stream: true });
    let read = 0;
    let lastChunkAt = 0;
    for await (const _chunk of stream) {
      read++;
      lastChunkAt = now();
    }
    expect(read).toBeGreaterThanOrEqual(8);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const call = callSpan();
    // The server wrote the last line ~15 ms after the one before: the span covers the whole stream.
    const last = sim.requests[0]?.endedAt ?? 0;
    expect(endMs(call)).toBeGreaterThanOrEqual(last - 2);
    expect(endMs(call)).toBeLessThanOrEqual(lastChunkAt + 50);
    expect(call.attributes).toMatchObject({
      'gen_ai.request.stream': true,
      'gen_ai.usage.output_tokens': 8,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(call.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ends the span without error when the consumer breaks after two chunks', async () => {
    sim.setFaults([{ route: '/api/chat', tokenDelayMs: 30 }]);
    const stream = await client().chat({ model: 'llama3.2', messages, stream: true });
    let read = 0;
    for await (const _chunk of stream) {
      read++;
      if (read === 2) break;
    }
    await expect.poll(() => named('chat llama3.2').length, { timeout: 2_000 }).toBe(1);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes['error.type']).toBeUndefined();
    expect(call.events.map((event) => event.name)).toContain('bulwark.cancelled');
    expect(call.events.map((event) => event.name)).not.toContain('bulwark.retry.give_up');
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(0);
    expect(attempts()).toHaveLength(1);
    expect(attempts()[0]?.status.code).toBe(SpanStatusCode.UNSET);
    await expect.poll(() => sim.requests[0]?.outcome, { timeout: 2_000 }).toBe('client-closed');
  });

  it('ends the span in error when an {"error"} line arrives mid-stream', async () => {
    // Tokens spaced out, so the caller has read the first chunks (and committed) before the error.
    sim.setFaults([{ route: '/api/chat', kind: 'error-line', afterChunks: 3, tokenDelayMs: 5 }]);
    const stream = await client().chat({ model: 'llama3.2', messages, stream: true });
    let failure: unknown;
    try {
      for await (const _chunk of stream) {
        // read until it fails
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(StreamError);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe(ErrorCode.StreamError);
    expect(call.attributes['gen_ai.response.finish_reasons']).toEqual(['error']);
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(1);
    expect(attempts()).toHaveLength(1);
  });

  it('records a first-token timeout with its phase, then the retried success', async () => {
    sim.setFaults([{ route: '/api/chat', delayMs: 2_000, times: 1 }]);
    const policy = wrap(fastRetry(2), timeout({ firstTokenMs: 150 }));
    const answer = await client(policy).chat({ model: 'llama3.2', messages });
    expect(answer.done).toBe(true);
    const [first, second] = attempts();
    expect(first?.attributes).toMatchObject({
      'error.type': ErrorCode.Timeout,
      'bulwark.timeout.phase': 'first-token',
    });
    expect(first?.events.find((event) => event.name === 'bulwark.timeout')?.attributes).toMatchObject({
      'bulwark.timeout.phase': 'first-token',
      'bulwark.timeout.limit': 0.15,
    });
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    expect(callSpan().status.code).toBe(SpanStatusCode.UNSET);
  });

  it('fails the call with the first-token timeout once retries are spent', async () => {
    sim.setFaults([{ route: '/api/chat', delayMs: 2_000 }]);
    await expect(
      client(wrap(fastRetry(1), timeout({ firstTokenMs: 100 }))).chat({ model: 'llama3.2', messages }),
    ).rejects.toBeInstanceOf(TimeoutError);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe(ErrorCode.Timeout);
  });

  it("records a call's own totalMs running out as a timeout and an outer-deadline give-up, not a cancel", async () => {
    sim.setFaults([{ route: '/api/chat', kind: 'hang' }]);
    await expect(
      client().chat({ model: 'llama3.2', messages }, { timeout: { totalMs: 200 } }),
    ).rejects.toMatchObject({ code: ErrorCode.Timeout, phase: 'total' });
    const call = callSpan();
    expect(call.events.map((event) => event.name)).not.toContain('bulwark.cancelled');
    expect(call.attributes).toMatchObject({ 'error.type': ErrorCode.Timeout, 'bulwark.timeout.count': 1 });
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    const giveUp = call.events.find((event) => event.name === 'bulwark.retry.give_up');
    expect(giveUp?.attributes?.['bulwark.retry.reason']).toBe('outer-deadline');
    expect(call.events.filter((event) => event.name === 'bulwark.timeout')).toHaveLength(1);
  });

  it('traces an embeddings call', async () => {
    const answer = await client().embed({ model: 'nomic-embed-text', input: [PROMPT, 'another'] });
    expect(answer.embeddings).toHaveLength(2);
    const call = callSpan('embeddings nomic-embed-text');
    expect(call.attributes['gen_ai.operation.name']).toBe('embeddings');
    expect(call.attributes['gen_ai.usage.input_tokens']).toBe(answer.prompt_eval_count);
    expect(call.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
  });

  it('gives pull a bulwark.ollama span without GenAI attributes', async () => {
    await client().pull({ model: 'llama3.2' });
    const span = callSpan('bulwark.ollama.pull');
    expect(Object.keys(span.attributes).filter((key) => key.startsWith('gen_ai.'))).toEqual([]);
  });

  it('puts gen_ai.* on the call span only, and no prompt, output or header value anywhere by default', async () => {
    sim.setFaults([{ route: '/api/chat', status: 503, times: 1 }]);
    const answer = await client().chat({ model: 'llama3.2', messages });
    const output = answer.message.content;
    expect(output.length).toBeGreaterThan(0);
    expect(otel.spans().length).toBeGreaterThanOrEqual(5);
    for (const span of otel.spans()) {
      const genAi = Object.keys(span.attributes).filter((key) => key.startsWith('gen_ai.'));
      if (span.name !== 'chat llama3.2') expect(genAi).toEqual([]);
      const strings = spanStrings(span).join('\n');
      expect(strings).not.toContain('secret prompt');
      expect(strings).not.toContain('super-secret-header-value');
      expect(strings).not.toContain(output);
    }
    const metrics = JSON.stringify(await otel.metrics());
    expect(metrics).not.toContain('secret');
    expect(metrics).not.toContain('/api/chat');
  });

  it('records the prompt and the answer when content capture is on', async () => {
    const ollama = new Ollama({
      host: sim.url,
      policy: fastRetry(),
      instrument: createInstrumentation({ captureContent: true }),
    });
    clients.push(ollama);
    const answer = await ollama.chat({ model: 'llama3.2', messages });
    const call = callSpan();
    expect(JSON.parse(call.attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: PROMPT }] },
    ]);
    expect(JSON.parse(call.attributes['gen_ai.output.messages'] as string)).toEqual([
      {
        role: 'assistant',
        parts: [{ type: 'text', content: answer.message.content }],
        finish_reason: 'stop',
      },
    ]);
  });

  it('records the GenAI metrics with their names and units', async () => {
    const stream = await client().chat({ model: 'qwen3', messages, stream: true });
    for await (const _chunk of stream) {
      // read all
    }
    await client().chat({ model: 'qwen3', messages });
    const points = (await otel.metrics()).filter(
      (point) => point.attributes['gen_ai.request.model'] === 'qwen3',
    );
    const units = Object.fromEntries(points.map((point) => [point.name, point.unit]));
    expect(units).toMatchObject({
      'gen_ai.client.operation.duration': 's',
      'gen_ai.client.token.usage': '{token}',
      'gen_ai.client.operation.time_to_first_chunk': 's',
      'gen_ai.client.operation.time_per_output_chunk': 's',
      'bulwark.attempt.duration': 's',
    });
    const count = (name: string) =>
      (points.find((point) => point.name === name)?.value as { count: number } | undefined)?.count;
    expect(count('gen_ai.client.operation.duration')).toBe(2);
    // Streamed or not, both calls received a first chunk.
    expect(count('gen_ai.client.operation.time_to_first_chunk')).toBe(2);
  });
});
