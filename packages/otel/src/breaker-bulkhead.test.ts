import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import {
  BulkheadRejectedError,
  CircuitOpenError,
  ManualClock,
  ResponseError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConsecutiveBreaker, ConstantBackoff } from 'cockatiel';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { type Harness, type MetricPoint, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));
beforeEach(() => otel.exporter.reset());

const chat = (model: string) => ({
  operation: 'chat',
  model,
  host: 'http://127.0.0.1:11434',
  provider: 'ollama',
  request: { model, messages: [] },
});
const fastRetry = (maxAttempts: number) =>
  retry({ maxAttempts, backoff: new ConstantBackoff(0), budget: false });
const callSpan = (model: string) =>
  otel.spans().find((span) => span.name === `chat ${model}`) as ReadableSpan;
const attemptSpans = (call: ReadableSpan) =>
  otel
    .spans()
    .filter(
      (span) =>
        span.name === 'bulwark.attempt' && span.parentSpanContext?.spanId === call.spanContext().spanId,
    )
    .sort(
      (a, b) =>
        Number(a.attributes['bulwark.attempt.number']) - Number(b.attributes['bulwark.attempt.number']),
    );
const durationMs = (span: ReadableSpan) => span.duration[0] * 1000 + span.duration[1] / 1e6;
const sum = (points: MetricPoint[], name: string, attributes: Record<string, unknown>) =>
  points
    .filter(
      (point) =>
        point.name === name &&
        Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
    )
    .reduce((total, point) => total + (typeof point.value === 'number' ? point.value : point.value.count), 0);

describe('with the circuit breaker', () => {
  it('gives the attempt an open breaker refused a zero-length span, and records the state change', async () => {
    const breaker = circuitBreaker({
      key: 'model',
      breaker: () => new ConsecutiveBreaker(2),
      halfOpenAfterMs: 60_000,
    });
    const policy = instrument(wrap(fastRetry(3), breaker), { name: 'breaker-pipeline' });
    await expect(
      policy.execute(
        async () => {
          throw new ResponseError({ status: 500 });
        },
        { attributes: chat('breaker-model') },
      ),
    ).rejects.toBeInstanceOf(CircuitOpenError);

    const call = callSpan('breaker-model');
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['error.type']).toBe('ERR_BULWARK_CIRCUIT_OPEN');
    expect(call.attributes['bulwark.attempt.count']).toBe(3);
    const tries = attemptSpans(call);
    expect(
      tries.map((span) => [span.attributes['bulwark.attempt.number'], span.attributes['error.type']]),
    ).toEqual([
      [0, '500'],
      [1, '500'],
      [2, 'ERR_BULWARK_CIRCUIT_OPEN'],
    ]);
    expect(tries.every((span) => span.status.code === SpanStatusCode.ERROR)).toBe(true);
    expect(durationMs(tries[2] as ReadableSpan)).toBe(0);
    expect(tries[2]?.status.message).toBe('Circuit breaker "breaker-model" is open');

    const names = call.events.map((event) => event.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'bulwark.retry',
        'bulwark.circuit_breaker.state_change',
        'bulwark.circuit_breaker.rejected',
        'bulwark.retry.give_up',
        'exception',
      ]),
    );
    expect(names.filter((name) => name === 'exception')).toHaveLength(1);
    expect(
      call.events.find((event) => event.name === 'bulwark.circuit_breaker.state_change')?.attributes,
    ).toEqual({
      'bulwark.circuit_breaker.previous_state': 'closed',
      'bulwark.circuit_breaker.state': 'open',
      'bulwark.circuit_breaker.key': 'breaker-model',
    });

    const points = await otel.metrics();
    const events = { 'bulwark.pipeline.name': 'breaker-pipeline', 'gen_ai.request.model': 'breaker-model' };
    expect(sum(points, 'bulwark.events', { ...events, 'bulwark.event.name': 'circuit_opened' })).toBe(1);
    expect(sum(points, 'bulwark.events', { ...events, 'bulwark.event.name': 'circuit_rejected' })).toBe(1);
    const state = points.filter(
      (point) =>
        point.name === 'bulwark.circuit_breaker.state' &&
        point.attributes['bulwark.circuit_breaker.key'] === 'breaker-model',
    );
    expect(
      Object.fromEntries(
        state.map((point) => [point.attributes['bulwark.circuit_breaker.state'], point.value]),
      ),
    ).toEqual({
      closed: 0,
      open: 1,
      half_open: 0,
    });
  });

  it('records the refusal of a breaker outside the retry as attempt 0', async () => {
    const breaker = circuitBreaker({ breaker: () => new ConsecutiveBreaker(1), halfOpenAfterMs: 60_000 });
    const policy = instrument(wrap(breaker, fastRetry(1)));
    await expect(
      policy.execute(
        async () => {
          throw new ResponseError({ status: 502 });
        },
        { attributes: chat('outer-breaker') },
      ),
    ).rejects.toBeInstanceOf(ResponseError);
    otel.exporter.reset();
    await expect(
      policy.execute(async () => ({ done: true }), { attributes: chat('outer-breaker') }),
    ).rejects.toBeInstanceOf(CircuitOpenError);
    const call = callSpan('outer-breaker');
    const tries = attemptSpans(call);
    expect(tries).toHaveLength(1);
    expect(tries[0]?.attributes).toMatchObject({
      'bulwark.attempt.number': 0,
      'error.type': 'ERR_BULWARK_CIRCUIT_OPEN',
    });
  });
});

describe('with the bulkhead', () => {
  it('records queueing, the wait, and a rejection when full', async () => {
    const clock = new ManualClock();
    const policy = instrument(bulkhead({ key: 'model', limit: 1, queue: 1 }), { name: 'bulkhead-pipeline' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = policy.execute(() => gate.then(() => ({ done: true })), {
      clock,
      attributes: chat('bulkhead-model'),
    });
    const second = policy.execute(async () => ({ done: true }), {
      clock,
      attributes: chat('bulkhead-model'),
    });
    await expect(
      policy.execute(async () => ({ done: true }), { clock, attributes: chat('bulkhead-model') }),
    ).rejects.toBeInstanceOf(BulkheadRejectedError);

    const points = await otel.metrics();
    const key = { 'bulwark.pipeline.name': 'bulkhead-pipeline', 'bulwark.bulkhead.key': 'bulkhead-model' };
    const observed = (name: string) =>
      points.find(
        (point) => point.name === name && point.attributes['bulwark.bulkhead.key'] === 'bulkhead-model',
      )?.value;
    expect(observed('bulwark.bulkhead.executing')).toBe(1);
    expect(observed('bulwark.bulkhead.queued')).toBe(1);

    clock.advance(250);
    release();
    await Promise.all([first, second]);

    const calls = otel.spans().filter((span) => span.name === 'chat bulkhead-model');
    expect(calls).toHaveLength(3);
    const rejected = calls.find((span) => span.attributes['error.type'] === 'ERR_BULWARK_BULKHEAD_REJECTED');
    expect(rejected?.events.map((event) => event.name)).toContain('bulwark.bulkhead.rejected');
    expect(attemptSpans(rejected as ReadableSpan).map((span) => span.attributes['error.type'])).toEqual([
      'ERR_BULWARK_BULKHEAD_REJECTED',
    ]);
    const waited = calls.find((span) =>
      span.events.some((event) => event.name === 'bulwark.bulkhead.queued'),
    );
    expect(
      waited?.events.find((event) => event.name === 'bulwark.bulkhead.acquired')?.attributes?.[
        'bulwark.bulkhead.queue.duration'
      ],
    ).toBe(0.25);

    const after = await otel.metrics();
    expect(sum(after, 'bulwark.bulkhead.queue.duration', key)).toBe(2);
    expect(
      sum(after, 'bulwark.events', {
        'bulwark.pipeline.name': 'bulkhead-pipeline',
        'bulwark.event.name': 'bulkhead_rejected',
      }),
    ).toBe(1);
  });

  it('records a queue timeout as a refused attempt with phase queue', async () => {
    const clock = new ManualClock();
    const policy = instrument(bulkhead({ limit: 1, queue: 1, queueMs: 100 }));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = policy.execute(() => gate, { clock, attributes: chat('queue-model') });
    const second = policy
      .execute(async () => 'never', { clock, attributes: chat('queue-model') })
      .catch((error: unknown) => error);
    await clock.advanceAsync(100);
    expect(await second).toBeInstanceOf(TimeoutError);
    release();
    await first;
    const failed = otel
      .spans()
      .find(
        (span) => span.name === 'chat queue-model' && span.attributes['error.type'] === 'ERR_BULWARK_TIMEOUT',
      );
    const [attempt] = attemptSpans(failed as ReadableSpan);
    expect(attempt?.attributes).toMatchObject({
      'bulwark.timeout.phase': 'queue',
      'error.type': 'ERR_BULWARK_TIMEOUT',
    });
    expect(failed?.events.find((event) => event.name === 'bulwark.timeout')?.attributes).toMatchObject({
      'bulwark.timeout.phase': 'queue',
      'bulwark.timeout.limit': 0.1,
    });
  });
});

describe('with the retry budget', () => {
  it('observes the remaining budget of every key of a keyed retry policy', async () => {
    const policy = instrument(
      retry({
        maxAttempts: 3,
        backoff: new ConstantBackoff(0),
        key: 'model',
        budget: { ratio: 0, minRetries: 3, windowMs: 60_000 },
      }),
      { name: 'budget-pipeline' },
    );
    const busy = async (): Promise<never> => {
      throw new ResponseError({ status: 503 });
    };
    // two attempts for each of two calls spend the three retries of "budget-a" (2 + 1, then refused)
    for (let call = 0; call < 2; call++)
      await policy.execute(busy, { attributes: chat('budget-a') }).catch(() => {});
    await policy.execute(async () => ({ done: true }), { attributes: chat('budget-b') });

    const remaining = async (key: string) =>
      (await otel.metrics()).find(
        (point) =>
          point.name === 'bulwark.retry.budget.remaining' &&
          point.attributes['bulwark.pipeline.name'] === 'budget-pipeline' &&
          point.attributes['bulwark.retry.key'] === key,
      )?.value;
    expect(await remaining('budget-a')).toBe(0);
    expect(await remaining('budget-b')).toBe(3);
  });
});
