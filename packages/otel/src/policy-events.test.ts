import { ManualClock, ResponseError, TimeoutError, wrap } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { type Harness, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

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
const callSpan = (model: string) =>
  otel.spans().find((span) => span.name === `chat ${model}`) as ReadableSpan;
const attemptSpans = () =>
  otel
    .spans()
    .filter((span) => span.name === 'bulwark.attempt')
    .sort(
      (a, b) =>
        Number(a.attributes['bulwark.attempt.number']) - Number(b.attributes['bulwark.attempt.number']),
    );
const eventCount = async (pipeline: string, name: string) =>
  (await otel.metrics())
    .filter(
      (point) =>
        point.name === 'bulwark.events' &&
        point.attributes['bulwark.pipeline.name'] === pipeline &&
        point.attributes['bulwark.event.name'] === name,
    )
    .reduce((sum, point) => sum + (point.value as number), 0);

describe('policy events', () => {
  it('turns retry events into span events on the call span', async () => {
    const policy = instrument(retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), budget: false }), {
      name: 'retry-events',
    });
    let calls = 0;
    await expect(
      policy.execute(
        async () => {
          calls++;
          throw calls === 1 ? new ResponseError({ status: 503 }) : new ResponseError({ status: 502 });
        },
        { attributes: chat('retry-model') },
      ),
    ).rejects.toBeInstanceOf(ResponseError);
    const call = callSpan('retry-model');
    const retries = call.events.filter((event) => event.name === 'bulwark.retry');
    expect(retries.map((event) => event.attributes)).toEqual([
      { 'bulwark.attempt.number': 0, 'bulwark.retry.delay': 0, 'error.type': '503' },
      { 'bulwark.attempt.number': 1, 'bulwark.retry.delay': 0, 'error.type': '502' },
    ]);
    const giveUp = call.events.find((event) => event.name === 'bulwark.retry.give_up');
    expect(giveUp?.attributes).toEqual({
      'bulwark.attempt.number': 2,
      'error.type': '502',
      'bulwark.retry.reason': 'max-attempts',
    });
    expect(call.attributes['error.type']).toBe('502');
    expect(attemptSpans().map((span) => span.attributes['error.type'])).toEqual(['503', '502', '502']);
  });

  it('records an attempt timeout once, with its phase and limit, on the attempt span', async () => {
    const clock = new ManualClock();
    const policy = instrument(
      wrap(
        retry({ maxAttempts: 2, backoff: new ConstantBackoff(0), budget: false }),
        timeout({ attemptMs: 1_000 }),
      ),
      { name: 'timeout-events' },
    );
    let calls = 0;
    const pending = policy.execute(
      (context) => {
        calls++;
        if (calls === 2) return Promise.resolve({ model: 'timeout-model', done: true, done_reason: 'stop' });
        return new Promise((_resolve, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
        );
      },
      { clock, attributes: chat('timeout-model') },
    );
    await clock.advanceAsync(1_000);
    await pending;

    const call = callSpan('timeout-model');
    expect(call.status.code).toBe(SpanStatusCode.UNSET);
    const [first, second] = attemptSpans();
    expect(first?.attributes).toMatchObject({
      'error.type': 'ERR_BULWARK_TIMEOUT',
      'bulwark.timeout.phase': 'attempt',
    });
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    const timeouts = first?.events.filter((event) => event.name === 'bulwark.timeout') ?? [];
    expect(timeouts.map((event) => event.attributes)).toEqual([
      { 'bulwark.timeout.phase': 'attempt', 'bulwark.timeout.limit': 1, 'bulwark.attempt.number': 0 },
    ]);
    expect(second?.status.code).toBe(SpanStatusCode.UNSET);
    expect(await eventCount('timeout-events', 'timeout')).toBe(1);
    expect(await eventCount('timeout-events', 'retry')).toBe(1);
  });

  it('carries the first-token phase of a transport timeout to the attempt span', async () => {
    const policy = instrument(retry({ maxAttempts: 1, budget: false }));
    await expect(
      policy.execute(
        async () => {
          throw new TimeoutError({ phase: 'first-token', timeoutMs: 5_000, elapsedMs: 5_002, attempt: 0 });
        },
        { attributes: chat('first-token-model') },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    const [attempt] = attemptSpans();
    expect(attempt?.attributes['bulwark.timeout.phase']).toBe('first-token');
    expect(attempt?.events.find((event) => event.name === 'bulwark.timeout')?.attributes).toMatchObject({
      'bulwark.timeout.phase': 'first-token',
      'bulwark.timeout.limit': 5,
    });
    expect(callSpan('first-token-model').attributes['error.type']).toBe('ERR_BULWARK_TIMEOUT');
  });

  it('subscribes once to a policy shared by two instrumentations, counting each event once', async () => {
    const shared = retry({ maxAttempts: 2, backoff: new ConstantBackoff(0), budget: false });
    const one = instrument(shared, { name: 'shared-one' });
    instrument(shared, { name: 'shared-two' });
    let calls = 0;
    await one.execute(
      async () => {
        if (calls++ === 0) throw new ResponseError({ status: 503 });
        return { done: true };
      },
      { attributes: chat('shared-model') },
    );
    expect(await eventCount('shared-one', 'retry')).toBe(1);
    expect(await eventCount('shared-two', 'retry')).toBe(0);
    expect(callSpan('shared-model').events.filter((event) => event.name === 'bulwark.retry')).toHaveLength(1);
  });
});
