import {
  BulwarkError,
  CircuitOpenError,
  type Context,
  definePolicy,
  ErrorCode,
  ManualClock,
  noop,
  type Policy,
  ResponseError,
  StreamError,
  wrap,
} from '@bulwark/core';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createInstrumentation, instrument, startSpanHook } from './index.js';
import { type Harness, registerOtel, spanStrings, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));
beforeEach(() => otel.exporter.reset());

const HOST = 'http://127.0.0.1:11434';
const PROMPT = 'What is the capital of Ruritania? (secret prompt)';
const ANSWER = 'Strelsau, of course (secret answer)';

/** An Ollama-shaped final line, as the client resolves the policy operation with it. */
const finalChat = () => ({
  model: 'llama3.2:latest',
  created_at: '2026-01-01T00:00:00.000000000Z',
  message: { role: 'assistant', content: ANSWER },
  done: true,
  done_reason: 'stop',
  total_duration: 400_000_000,
  load_duration: 100_000_000,
  prompt_eval_count: 12,
  prompt_eval_duration: 50_000_000,
  eval_count: 4,
  eval_duration: 250_000_000,
});

const chatAttributes = (extra: Record<string, unknown> = {}) => ({
  operation: 'chat',
  model: 'llama3.2',
  host: HOST,
  provider: 'ollama',
  request: {
    model: 'llama3.2',
    messages: [{ role: 'user', content: PROMPT }],
    options: { temperature: 0.2, top_p: 0.9, top_k: 40, num_predict: 128, seed: 7, stop: ['\n\n'] },
    headers: { authorization: 'Bearer secret-token-value' },
  },
  ...extra,
});

/** A retry made with core only: runs up to `maxAttempts` attempts while errors are retryable. */
const coreRetry = (maxAttempts: number): Policy =>
  definePolicy(async (context, next) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await next(context.with({ attempt, maxAttempts }));
      } catch (error) {
        if (attempt + 1 >= maxAttempts || !(BulwarkError.is(error) && error.retryable)) throw error;
      }
    }
  });

const byName = (name: string) => otel.spans().filter((span) => span.name === name);
const only = (name: string): ReadableSpan => {
  const spans = byName(name);
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const durationMs = (span: ReadableSpan) => span.duration[0] * 1000 + span.duration[1] / 1e6;

describe('instrument()', () => {
  it('gives a retried chat one GenAI span, not an error, over attempt spans that are', async () => {
    const policy = instrument(coreRetry(3));
    let calls = 0;
    const result = await policy.execute(
      async () => {
        calls++;
        if (calls < 3) throw new ResponseError({ status: 503, serverMessage: 'server busy' });
        return finalChat();
      },
      { attributes: chatAttributes() },
    );
    expect(result.done).toBe(true);

    const call = only('chat llama3.2');
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': 'llama3.2',
      'server.address': '127.0.0.1',
      'server.port': 11434,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.top_k': 40,
      'gen_ai.request.max_tokens': 128,
      'gen_ai.request.seed': 7,
      'gen_ai.request.stop_sequences': ['\n\n'],
      'gen_ai.response.model': 'llama3.2:latest',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 4,
      'bulwark.ollama.load_duration': 0.1,
      'bulwark.ollama.prompt_eval_duration': 0.05,
      'bulwark.ollama.eval_duration': 0.25,
      'bulwark.attempt.count': 3,
    });
    expect(call.attributes['error.type']).toBeUndefined();
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(0);

    const attempts = byName('bulwark.attempt').sort(
      (a, b) =>
        (a.attributes['bulwark.attempt.number'] as number) -
        (b.attributes['bulwark.attempt.number'] as number),
    );
    expect(attempts.map((span) => span.attributes['bulwark.attempt.number'])).toEqual([0, 1, 2]);
    for (const attempt of attempts) {
      expect(attempt.kind).toBe(SpanKind.INTERNAL);
      expect(parentOf(attempt)).toBe(call.spanContext().spanId);
      expect(attempt.spanContext().traceId).toBe(call.spanContext().traceId);
      expect(attempt.events.filter((event) => event.name === 'exception')).toHaveLength(0);
    }
    expect(attempts.map((span) => span.status.code)).toEqual([
      SpanStatusCode.ERROR,
      SpanStatusCode.ERROR,
      SpanStatusCode.UNSET,
    ]);
    expect(attempts.map((span) => span.attributes['error.type'])).toEqual(['503', '503', undefined]);
  });

  it('puts gen_ai.* on the operation span only', async () => {
    const policy = instrument(coreRetry(2));
    let calls = 0;
    await policy.execute(
      async () => {
        if (calls++ === 0) throw new ResponseError({ status: 500 });
        return finalChat();
      },
      { attributes: chatAttributes() },
    );
    const spans = otel.spans();
    expect(spans).toHaveLength(3);
    for (const span of spans) {
      const genAi = Object.keys(span.attributes).filter((key) => key.startsWith('gen_ai.'));
      if (span.name === 'chat llama3.2') expect(genAi.length).toBeGreaterThan(5);
      else expect(genAi).toEqual([]);
    }
  });

  it('runs the operation under the attempt span, so spans made inside are its children', async () => {
    const { trace } = await import('@opentelemetry/api');
    const policy = instrument(coreRetry(2));
    let calls = 0;
    let hook: ReturnType<typeof startSpanHook> = {};
    await policy.execute(
      async () => {
        const child = trace.getTracer('test').startSpan('POST');
        child.end();
        hook = startSpanHook();
        if (calls++ === 0) throw new ResponseError({ status: 503 });
        return finalChat();
      },
      { attributes: chatAttributes() },
    );
    const attempts = byName('bulwark.attempt');
    const posts = byName('POST');
    expect(posts).toHaveLength(2);
    expect(posts.map(parentOf).sort()).toEqual(attempts.map((span) => span.spanContext().spanId).sort());
    // The second attempt's HTTP request is a resend.
    expect(hook).toEqual({ 'http.request.resend_count': 1 });
    expect(startSpanHook()).toEqual({});
  });

  it('gives an attempt refused before dispatch a zero-length span in error', async () => {
    let open = false;
    const breaker = definePolicy(async (_context, next) => {
      if (open) throw new CircuitOpenError({ key: 'llama3.2', state: 'open' });
      try {
        return await next(_context);
      } catch (error) {
        open = true;
        throw error;
      }
    });
    const retryAll = definePolicy(async (context, next) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await next(context.with({ attempt, maxAttempts: 2 }));
        } catch (error) {
          if (attempt + 1 >= 2) throw error;
        }
      }
    });
    const policy = instrument(wrap(retryAll, breaker));
    const failure = await policy
      .execute(
        async () => {
          throw new ResponseError({ status: 503 });
        },
        { attributes: chatAttributes() },
      )
      .catch((error: unknown) => error);
    expect(BulwarkError.is(failure) && failure.code).toBe(ErrorCode.CircuitOpen);

    const call = only('chat llama3.2');
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe('ERR_BULWARK_CIRCUIT_OPEN');
    expect(call.attributes['bulwark.attempt.count']).toBe(2);
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(1);
    const attempts = byName('bulwark.attempt');
    const rejected = attempts.find((span) => span.attributes['bulwark.attempt.number'] === 1);
    expect(rejected?.attributes['error.type']).toBe('ERR_BULWARK_CIRCUIT_OPEN');
    expect(rejected?.status.code).toBe(SpanStatusCode.ERROR);
    expect(rejected && durationMs(rejected)).toBe(0);
    expect(parentOf(rejected as ReadableSpan)).toBe(call.spanContext().spanId);
    expect(
      attempts.find((span) => span.attributes['bulwark.attempt.number'] === 0)?.attributes['error.type'],
    ).toBe('503');
  });

  it('does not count a caller cancel as an error', async () => {
    const policy = instrument(noop());
    const controller = new AbortController();
    const reason = new Error('user left');
    const pending = policy.execute(
      (context) =>
        new Promise((_resolve, reject) => {
          context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
        }),
      { signal: controller.signal, attributes: chatAttributes() },
    );
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const call = only('chat llama3.2');
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    expect(call.attributes['error.type']).toBeUndefined();
    expect(call.events.map((event) => event.name)).toContain('bulwark.cancelled');
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(0);
    const attempt = only('bulwark.attempt');
    expect(attempt.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ends a stream span at the last chunk and times the first chunk from the call start', async () => {
    const clock = new ManualClock();
    const policy = instrument(noop());
    await policy.execute(
      async (context: Context) => {
        clock.advance(150);
        context.commit();
        clock.advance(300);
        return finalChat();
      },
      { clock, attributes: chatAttributes({ request: { ...chatAttributes().request, stream: true } }) },
    );
    const call = only('chat llama3.2');
    expect(durationMs(call)).toBe(450);
    expect(call.attributes['gen_ai.request.stream']).toBe(true);
    expect(call.attributes['gen_ai.response.time_to_first_chunk']).toBe(0.15);
    const attempt = only('bulwark.attempt');
    expect(attempt.attributes['bulwark.attempt.time_to_first_chunk']).toBe(0.15);
    expect(attempt.events.map((event) => event.name)).toContain('bulwark.stream.committed');
  });

  it('ends a stream cut after output in error, with finish reason "error"', async () => {
    const policy = instrument(noop());
    const failure = await policy
      .execute(
        async (context: Context) => {
          context.commit();
          throw new StreamError({ serverMessage: 'runner failed', committed: true });
        },
        { attributes: chatAttributes({ request: { ...chatAttributes().request, stream: true } }) },
      )
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StreamError);
    const call = only('chat llama3.2');
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe('ERR_BULWARK_STREAM_ERROR');
    expect(call.attributes['gen_ai.response.finish_reasons']).toEqual(['error']);
  });

  it('records no prompt, output or header value by default', async () => {
    // The secret sits where the instrumentation reads: the host it parses for server.address, and the
    // request it reads parameters from.
    const attributes = chatAttributes({ host: 'http://ollama:secret-token-value@127.0.0.1:11434' });
    await instrument(noop()).execute(async () => finalChat(), { attributes });
    expect(only('chat llama3.2').attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': 11434,
      'gen_ai.request.temperature': 0.2,
    });
    const strings = otel.spans().flatMap(spanStrings).join('\n');
    expect(strings).not.toContain('secret prompt');
    expect(strings).not.toContain('secret answer');
    expect(strings).not.toContain('secret-token-value');
    expect(strings).not.toContain('Bearer');
  });

  it('records prompts and outputs when asked to, in the conventions JSON shape', async () => {
    const instrumentation = createInstrumentation({ captureContent: true });
    await instrumentation(noop()).execute(async () => finalChat(), { attributes: chatAttributes() });
    const call = only('chat llama3.2');
    expect(JSON.parse(call.attributes['gen_ai.input.messages'] as string)).toEqual([
      { role: 'user', parts: [{ type: 'text', content: PROMPT }] },
    ]);
    expect(JSON.parse(call.attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: ANSWER }], finish_reason: 'stop' },
    ]);
    expect(spanStrings(call).join('\n')).not.toContain('secret-token-value');
  });

  it('records the system instructions of a generate call separately', async () => {
    await instrument(noop(), { captureContent: true }).execute(
      async () => ({ model: 'llama3.2', response: ANSWER, done: true, done_reason: 'stop', eval_count: 3 }),
      {
        attributes: {
          operation: 'generate',
          model: 'llama3.2',
          host: HOST,
          provider: 'ollama',
          request: { model: 'llama3.2', prompt: PROMPT, system: 'Be brief.' },
        },
      },
    );
    const call = only('text_completion llama3.2');
    expect(call.attributes['gen_ai.operation.name']).toBe('text_completion');
    expect(JSON.parse(call.attributes['gen_ai.system_instructions'] as string)).toEqual([
      { type: 'text', content: 'Be brief.' },
    ]);
    expect(JSON.parse(call.attributes['gen_ai.output.messages'] as string)[0].parts).toEqual([
      { type: 'text', content: ANSWER },
    ]);
  });

  it('names embeddings calls and reads their input tokens', async () => {
    await instrument(noop()).execute(
      async () => ({ model: 'nomic-embed-text', embeddings: [[0.1, 0.2]], prompt_eval_count: 6 }),
      {
        attributes: {
          operation: 'embed',
          model: 'nomic-embed-text',
          host: HOST,
          provider: 'ollama',
          request: { model: 'nomic-embed-text', input: PROMPT, dimensions: 2 },
        },
      },
    );
    const call = only('embeddings nomic-embed-text');
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.usage.input_tokens': 6,
      'gen_ai.embeddings.dimension.count': 2,
      'gen_ai.response.model': 'nomic-embed-text',
    });
    expect(call.attributes['gen_ai.usage.output_tokens']).toBeUndefined();
  });

  it('gives other Ollama operations a bulwark.ollama span without GenAI attributes', async () => {
    await instrument(noop()).execute(async () => ({ status: 'success' }), {
      attributes: { operation: 'pull', model: 'llama3.2', host: HOST, provider: 'ollama' },
    });
    const span = only('bulwark.ollama.pull');
    expect(Object.keys(span.attributes).filter((key) => key.startsWith('gen_ai.'))).toEqual([]);
    expect(span.attributes).toMatchObject({
      'bulwark.operation': 'pull',
      'bulwark.model': 'llama3.2',
      'server.address': '127.0.0.1',
      'server.port': 11434,
    });
  });

  it('names a generic pipeline span after its operation', async () => {
    await instrument(noop()).execute(async () => 'ok', { attributes: { operation: 'search-index' } });
    const span = only('search-index');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    await instrument(noop()).execute(async () => 'ok');
    expect(byName('bulwark.call')).toHaveLength(1);
  });

  it('takes the parent from the context the call was made in', async () => {
    const { context, trace } = await import('@opentelemetry/api');
    const parent = trace.getTracer('test').startSpan('request handler');
    await context.with(trace.setSpan(context.active(), parent), () =>
      instrument(noop()).execute(async () => finalChat(), { attributes: chatAttributes() }),
    );
    parent.end();
    expect(parentOf(only('chat llama3.2'))).toBe(parent.spanContext().spanId);
  });

  it('emits the terminal failure as a log record instead of an exception event when given a logger', async () => {
    const records: unknown[] = [];
    const policy = instrument(noop(), { logger: { emit: (record) => records.push(record) } });
    await expect(
      policy.execute(
        async () => {
          throw new ResponseError({ status: 404, serverMessage: "model 'x' not found" });
        },
        { attributes: chatAttributes() },
      ),
    ).rejects.toBeInstanceOf(ResponseError);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      eventName: 'gen_ai.client.operation.exception',
      severityNumber: 13,
      attributes: { 'error.type': '404', 'exception.type': 'BulwarkResponseError' },
    });
    const call = only('chat llama3.2');
    expect(call.attributes['error.type']).toBe('404');
    expect(call.events.filter((event) => event.name === 'exception')).toHaveLength(0);
  });

  it('returns an instrumented policy unchanged and records each call once', async () => {
    const once = instrument(coreRetry(1));
    expect(instrument(once)).toBe(once);
    const nested = instrument(wrap(once, noop()));
    expect(nested).not.toBe(once);
    await nested.execute(async () => finalChat(), { attributes: chatAttributes() });
    expect(byName('chat llama3.2')).toHaveLength(1);
    expect(byName('bulwark.attempt')).toHaveLength(1);
  });

  it('rejects unknown options and bad values, naming them', () => {
    expect(() => instrument(noop(), { captureContnet: true } as never)).toThrow(
      /unknown option "captureContnet"/,
    );
    expect(() => instrument(noop(), { semconv: 'newest' } as never)).toThrow(/"semconv".*"newest"/);
    expect(() => createInstrumentation({ name: '' })).toThrow(/"name"/);
    expect(() => instrument({} as never)).toThrow(/not a Bulwark policy/);
  });
});
