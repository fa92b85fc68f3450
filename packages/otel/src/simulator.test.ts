import { ErrorCode, StreamError, TimeoutError, wrap } from '@bulwark/core';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createInstrumentation, instrument, startSpanHook } from './index.js';
import { ConsumerStoppedError, plainCall, streamCall } from './test-support/ollama-stand-in.js';
import { type Harness, registerOtel, spanStrings, unregisterOtel } from './test-support/otel-harness.js';
import { traceContextPropagator } from './test-support/trace-context-propagator.js';

/*
 * Against the simulator, through a small stand-in for the Ollama client's transport (it follows the
 * client's contract with the policy: attributes, commit at the first chunk, resolve with the final line).
 */

const PROMPT = 'Tell me about the secret garden (secret prompt)';
const SECRET_HEADER = 'Bearer super-secret-header-value';

let otel: Harness;
let sim: OllamaSim;
let undiciInstrumentation: UndiciInstrumentation;

beforeAll(async () => {
  otel = registerOtel();
  propagation.setGlobalPropagator(traceContextPropagator);
  undiciInstrumentation = new UndiciInstrumentation({ startSpanHook });
  undiciInstrumentation.setTracerProvider(otel.tracerProvider);
  undiciInstrumentation.enable();
  sim = await startOllamaSim({ replyTokens: 8 });
});

afterAll(async () => {
  undiciInstrumentation.disable();
  await sim.close();
  await unregisterOtel(otel);
});

beforeEach(() => {
  otel.exporter.reset();
  sim.clearFaults();
  sim.clearRequests();
});

const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: 'llama3.2',
  messages: [{ role: 'user', content: PROMPT }],
  options: { temperature: 0.3, num_predict: 64 },
  ...extra,
});
const fastRetry = (maxAttempts = 3) => retry({ maxAttempts, backoff: new ConstantBackoff(0), budget: false });
const named = (name: string) => otel.spans().filter((span) => span.name === name);
const callSpan = () => {
  const spans = named('chat llama3.2');
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
};
const attempts = () =>
  named('bulwark.attempt').sort(
    (a, b) => Number(a.attributes['bulwark.attempt.number']) - Number(b.attributes['bulwark.attempt.number']),
  );
const httpSpans = () => otel.spans().filter((span) => span.kind === SpanKind.CLIENT && span.name === 'POST');
const endMs = (span: ReadableSpan) => span.endTime[0] * 1000 + span.endTime[1] / 1e6;
const durationMs = (span: ReadableSpan) => span.duration[0] * 1000 + span.duration[1] / 1e6;

async function readAll(chunks: AsyncIterable<Record<string, unknown>>): Promise<number> {
  let count = 0;
  for await (const _chunk of chunks) count++;
  return count;
}

describe('against the simulator', () => {
  it('traces a chat retried twice then succeeding: call span fine, failed attempts in error, HTTP spans under attempts', async () => {
    sim.setFaults([{ route: '/api/chat', status: 503, times: 2 }]);
    const { chunks, final } = streamCall(instrument(fastRetry()), sim.url, chatBody(), {
      headers: { authorization: SECRET_HEADER },
    });
    expect(await readAll(chunks)).toBe(8);
    await final;

    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': 'llama3.2',
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.stream': true,
      'gen_ai.response.model': 'llama3.2',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.output_tokens': 8,
      'bulwark.attempt.count': 3,
      'server.address': '127.0.0.1',
      'server.port': sim.port,
    });
    expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(call.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
    expect(call.events.filter((event) => event.name === 'bulwark.retry')).toHaveLength(2);

    const tries = attempts();
    expect(tries.map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
    expect(tries.map((span) => span.attributes['error.type'])).toEqual(['503', '503', undefined]);
    const http = httpSpans();
    expect(http).toHaveLength(3);
    for (const attempt of tries) {
      const children = http.filter((span) => span.parentSpanContext?.spanId === attempt.spanContext().spanId);
      expect(children).toHaveLength(1);
      const number = attempt.attributes['bulwark.attempt.number'] as number;
      expect(children[0]?.attributes['http.request.resend_count']).toBe(number === 0 ? undefined : number);
    }

    // The simulator's log: exactly one traceparent per request, naming that request's HTTP span.
    expect(sim.requests).toHaveLength(3);
    for (const record of sim.requests) {
      const traceparent = record.headers.traceparent;
      expect(typeof traceparent).toBe('string');
      expect(http.map((span) => span.spanContext().spanId)).toContain((traceparent as string).split('-')[2]);
    }
  });

  it('ends a streamed call span only after the last chunk was read', async () => {
    const { chunks, final } = streamCall(instrument(fastRetry()), sim.url, chatBody());
    let lastChunkAt = 0;
    for await (const _chunk of chunks) {
      lastChunkAt = performance.timeOrigin + performance.now();
      // A slow reader: 8 chunks, 20 ms each.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await final;
    const call = callSpan();
    expect(endMs(call)).toBeGreaterThanOrEqual(lastChunkAt - 1);
    expect(durationMs(call)).toBeGreaterThanOrEqual(7 * 20 - 5);
    expect(call.attributes['gen_ai.usage.output_tokens']).toBe(8);
    expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
  });

  it('ends the span without error when the consumer breaks after two chunks', async () => {
    sim.setFaults([{ route: '/api/chat', tokenDelayMs: 20 }]);
    const { chunks, final } = streamCall(instrument(fastRetry()), sim.url, chatBody());
    let read = 0;
    for await (const _chunk of chunks) {
      read++;
      if (read === 2) break;
    }
    await expect(final).rejects.toBeInstanceOf(ConsumerStoppedError);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes['error.type']).toBeUndefined();
    expect(call.events.map((event) => event.name)).toContain('bulwark.cancelled');
    expect(attempts()).toHaveLength(1);
    expect(attempts()[0]?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ends the span in error when an {"error"} line arrives mid-stream', async () => {
    sim.setFaults([{ route: '/api/chat', kind: 'error-line', afterChunks: 3 }]);
    const { chunks, final } = streamCall(instrument(fastRetry()), sim.url, chatBody());
    await expect(readAll(chunks)).rejects.toBeInstanceOf(StreamError);
    await expect(final).rejects.toBeInstanceOf(StreamError);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe(ErrorCode.StreamError);
    expect(call.attributes['gen_ai.response.finish_reasons']).toEqual(['error']);
    // Committed: not retried.
    expect(attempts()).toHaveLength(1);
  });

  it('records a first-token timeout with its phase on the attempt span', async () => {
    sim.setFaults([{ route: '/api/chat', delayMs: 2_000, times: 1 }]);
    const policy = instrument(wrap(fastRetry(2), timeout({ firstTokenMs: 150 })));
    const { chunks, final } = streamCall(policy, sim.url, chatBody());
    expect(await readAll(chunks)).toBe(8);
    await final;
    const [first, second] = attempts();
    expect(first?.attributes).toMatchObject({
      'error.type': ErrorCode.Timeout,
      'bulwark.timeout.phase': 'first_token',
    });
    expect(first?.events.find((event) => event.name === 'bulwark.timeout')?.attributes).toMatchObject({
      'bulwark.timeout.phase': 'first_token',
      'bulwark.timeout.limit': 0.15,
    });
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    expect(callSpan().status.code).toBe(SpanStatusCode.UNSET);
    const timeouts = (await otel.metrics()).filter(
      (point) =>
        point.name === 'bulwark.events' &&
        point.attributes['bulwark.event.name'] === 'timeout' &&
        point.attributes['bulwark.timeout.phase'] === 'first_token' &&
        point.attributes['gen_ai.request.model'] === 'llama3.2',
    );
    expect(timeouts.reduce((sum, point) => sum + (point.value as number), 0)).toBeGreaterThanOrEqual(1);
  });

  it('fails the call with the first-token timeout once retries are spent', async () => {
    sim.setFaults([{ route: '/api/chat', delayMs: 2_000 }]);
    const policy = instrument(wrap(fastRetry(1), timeout({ firstTokenMs: 100 })));
    const { final } = streamCall(policy, sim.url, chatBody());
    await expect(final).rejects.toBeInstanceOf(TimeoutError);
    const call = callSpan();
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe(ErrorCode.Timeout);
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(1);
  });

  it('traces an embeddings call', async () => {
    const answer = await plainCall(instrument(fastRetry()), sim.url, '/api/embed', 'embed', {
      model: 'nomic-embed-text',
      input: [PROMPT, 'another'],
    });
    expect(Array.isArray(answer.embeddings)).toBe(true);
    const [call] = named('embeddings nomic-embed-text');
    expect(call?.kind).toBe(SpanKind.CLIENT);
    expect(call?.attributes['gen_ai.operation.name']).toBe('embeddings');
    expect(call?.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(call?.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
  });

  it('puts gen_ai.* on the call span only, and no prompt, output or header value anywhere by default', async () => {
    sim.setFaults([{ route: '/api/chat', status: 503, times: 1 }]);
    const { chunks, final } = streamCall(instrument(fastRetry()), sim.url, chatBody(), {
      headers: { authorization: SECRET_HEADER },
    });
    const contents: string[] = [];
    for await (const chunk of chunks)
      contents.push(String((chunk.message as { content?: string })?.content ?? ''));
    await final;
    const output = contents.join('');
    expect(output.length).toBeGreaterThan(0);
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

  it('records the prompt when content capture is on', async () => {
    const { chunks, final } = streamCall(
      createInstrumentation({ captureContent: true })(fastRetry()),
      sim.url,
      chatBody(),
    );
    await readAll(chunks);
    await final;
    const input = JSON.parse(callSpan().attributes['gen_ai.input.messages'] as string);
    expect(input).toEqual([{ role: 'user', parts: [{ type: 'text', content: PROMPT }] }]);
    expect(callSpan().attributes['gen_ai.output.messages']).toBeDefined();
  });
});
