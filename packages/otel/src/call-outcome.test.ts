import { ManualClock, noop, ResponseError, TimeoutError } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { CHUNK_BUCKETS, DURATION_BUCKETS } from './semconv.js';
import { type Harness, type MetricPoint, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));

const HOST = 'http://127.0.0.1:11434';
const chat = (model: string) => ({
  operation: 'chat',
  model,
  host: HOST,
  provider: 'ollama',
  request: { model, messages: [{ role: 'user', content: 'hi' }] },
});
const answer = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  message: { role: 'assistant', content: 'hello' },
  done: true,
  done_reason: 'stop',
  prompt_eval_count: 3,
  eval_count: 2,
  ...extra,
});
const firstToken = () => new TimeoutError({ phase: 'first-token', timeoutMs: 2_000, elapsedMs: 2_001 });
const retried = (name: string) =>
  instrument(retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), budget: false }), { name });

function find(points: MetricPoint[], name: string, attributes: Record<string, unknown> = {}): MetricPoint[] {
  return points.filter(
    (point) =>
      point.name === name &&
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
  );
}
const histogram = (point: MetricPoint | undefined) =>
  point?.value as { count: number; sum: number; boundaries: number[]; counts: number[] };
const total = (points: MetricPoint[]) => points.reduce((sum, point) => sum + (point.value as number), 0);

describe('the per-call outcome', () => {
  it('counts a success after a retried timeout once, as a success, with its attempts and timeouts', async () => {
    let calls = 0;
    await retried('recovered').execute(
      async () => {
        if (calls++ === 0) throw firstToken();
        return answer('model-a');
      },
      { attributes: chat('model-a') },
    );
    const points = await otel.metrics();
    const outcome = find(points, 'bulwark.calls', { 'bulwark.pipeline.name': 'recovered' });
    expect(outcome.map((point) => [point.unit, point.value, point.attributes])).toEqual([
      [
        '{call}',
        1,
        {
          'bulwark.pipeline.name': 'recovered',
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'ollama',
          'gen_ai.request.model': 'model-a',
          'server.address': '127.0.0.1',
          'server.port': 11434,
          'bulwark.call.outcome': 'success',
        },
      ],
    ]);
    const attempts = histogram(
      find(points, 'bulwark.call.attempts', { 'bulwark.pipeline.name': 'recovered' })[0],
    );
    expect([attempts.count, attempts.sum]).toEqual([1, 2]);
    const timeouts = histogram(
      find(points, 'bulwark.call.timeouts', { 'bulwark.pipeline.name': 'recovered' })[0],
    );
    expect([timeouts.count, timeouts.sum]).toEqual([1, 1]);
    // The bucket le="0" counts calls without a timeout: none here.
    expect(timeouts.boundaries[0]).toBe(0);
    expect(timeouts.counts[0]).toBe(0);

    const span = otel.spans().find((candidate) => candidate.name === 'chat model-a');
    expect(span?.attributes).toMatchObject({
      'bulwark.attempt.count': 2,
      'bulwark.retry.count': 1,
      'bulwark.timeout.count': 1,
    });
    expect(span?.attributes['error.type']).toBeUndefined();
  });

  it('records a call that timed out on every attempt once, with the phase as the error spells it', async () => {
    let last: TimeoutError | undefined;
    const failing = retried('exhausted').execute(
      async () => {
        last = firstToken();
        throw last;
      },
      { attributes: chat('model-b') },
    );
    await expect(failing).rejects.toBeInstanceOf(TimeoutError);
    const points = await otel.metrics();
    const outcome = find(points, 'bulwark.calls', { 'bulwark.pipeline.name': 'exhausted' });
    expect(outcome).toHaveLength(1);
    expect(outcome[0]?.value).toBe(1);
    expect(outcome[0]?.attributes).toMatchObject({
      'bulwark.call.outcome': 'timeout',
      'error.type': 'ERR_BULWARK_TIMEOUT',
      'bulwark.timeout.phase': last?.phase,
    });
    expect(last?.phase).toBe('first-token');
    // Three attempts, three timeouts: the final error is the last attempt's, not a fourth.
    expect(
      histogram(find(points, 'bulwark.call.attempts', { 'bulwark.pipeline.name': 'exhausted' })[0]).sum,
    ).toBe(3);
    expect(
      histogram(find(points, 'bulwark.call.timeouts', { 'bulwark.pipeline.name': 'exhausted' })[0]).sum,
    ).toBe(3);
    const attemptSpans = otel
      .spans()
      .filter((span) => span.name === 'bulwark.attempt' && span.parentSpanContext?.spanId === undefined);
    expect(attemptSpans).toEqual([]);
    const phases = new Set(
      otel
        .spans()
        .filter((span) => span.name === 'bulwark.attempt')
        .map((span) => span.attributes['bulwark.timeout.phase'])
        .filter((phase) => phase !== undefined),
    );
    expect([...phases]).toEqual(['first-token']);
  });

  it('gives a timeout rate per call, not per attempt: 1 call of 10 timed out after 3 attempts is 10 %', async () => {
    const policy = retried('rate');
    for (let call = 0; call < 9; call++)
      await policy.execute(async () => answer('model-r'), { attributes: chat('model-r') });
    await expect(
      policy.execute(
        async () => {
          throw firstToken();
        },
        { attributes: chat('model-r') },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    const points = find(await otel.metrics(), 'bulwark.calls', { 'bulwark.pipeline.name': 'rate' });
    const timedOut = total(points.filter((point) => point.attributes['bulwark.call.outcome'] === 'timeout'));
    expect(timedOut / total(points)).toBe(0.1);
    // The per-attempt counter would say 3 timeouts for 10 calls.
    const events = find(await otel.metrics(), 'bulwark.events', {
      'bulwark.pipeline.name': 'rate',
      'bulwark.event.name': 'timeout',
    });
    expect(total(events)).toBe(3);
  });

  it('tells an error from a timeout and a cancel', async () => {
    const policy = instrument(noop(), { name: 'kinds' });
    await expect(
      policy.execute(
        async () => {
          throw new ResponseError({ status: 503 });
        },
        { attributes: chat('model-k') },
      ),
    ).rejects.toBeInstanceOf(ResponseError);
    const controller = new AbortController();
    const pending = policy.execute(
      (context) =>
        new Promise((_resolve, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
        ),
      { signal: controller.signal, attributes: chat('model-k') },
    );
    controller.abort(new Error('left'));
    await expect(pending).rejects.toThrow('left');
    const outcomes = find(await otel.metrics(), 'bulwark.calls', { 'bulwark.pipeline.name': 'kinds' })
      .map((point) => [
        point.attributes['bulwark.call.outcome'],
        point.attributes['error.type'],
        point.attributes['bulwark.timeout.phase'],
      ])
      .sort();
    expect(outcomes).toEqual([
      ['cancelled', undefined, undefined],
      ['error', '503', undefined],
    ]);
  });

  it('records the load time the final answer reports on its own histogram', async () => {
    await instrument(noop(), { name: 'load' }).execute(
      async () => answer('model-l', { load_duration: 2_500_000_000 }),
      { attributes: chat('model-l') },
    );
    const [load] = find(await otel.metrics(), 'bulwark.model.load.duration', {
      'gen_ai.request.model': 'model-l',
    });
    expect(load?.unit).toBe('s');
    expect(load?.attributes).toEqual({
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': 'model-l',
      'server.address': '127.0.0.1',
      'server.port': 11434,
      'bulwark.model.load.outcome': 'success',
      'bulwark.model.load.source': 'server',
    });
    expect([histogram(load).count, histogram(load).sum]).toEqual([1, 2.5]);
    expect(histogram(load).boundaries).toEqual([...DURATION_BUCKETS]);
  });
});

describe('bucket advice', () => {
  it('resolves durations past 82 s and up to the 600 s total budget, in steps of at most 15 s from 1 s to 60 s', async () => {
    const clock = new ManualClock();
    await instrument(noop()).execute(
      async () => {
        clock.advance(100_000);
        return answer('model-long');
      },
      { clock, attributes: chat('model-long') },
    );
    const [duration] = find(await otel.metrics(), 'gen_ai.client.operation.duration', {
      'gen_ai.request.model': 'model-long',
    });
    const { boundaries, counts, sum } = histogram(duration);
    expect(sum).toBe(100);
    // The point lands in a finite bucket whose upper bound is close above 100 s, not in +Inf.
    const bucket = counts.indexOf(1);
    expect(bucket).toBeLessThan(boundaries.length);
    expect(boundaries[bucket]).toBeGreaterThanOrEqual(100);
    expect(boundaries[bucket]).toBeLessThanOrEqual(120);
    expect(Math.max(...boundaries)).toBeGreaterThanOrEqual(600);
    const between = boundaries.filter((bound) => bound >= 1 && bound <= 60);
    for (let index = 1; index < between.length; index++)
      expect((between[index] as number) - (between[index - 1] as number)).toBeLessThanOrEqual(15);
  });

  it('resolves time per output chunk down to 1 ms: a 6 ms chunk is not in the first bucket', async () => {
    const clock = new ManualClock();
    await instrument(noop()).execute(
      async (context) => {
        clock.advance(10);
        context.commit();
        clock.advance(6 * 100);
        return answer('model-chunks', { eval_count: 101 });
      },
      { clock, attributes: { ...chat('model-chunks'), stream: true } },
    );
    const [perChunk] = find(await otel.metrics(), 'gen_ai.client.operation.time_per_output_chunk', {
      'gen_ai.request.model': 'model-chunks',
    });
    const { boundaries, counts } = histogram(perChunk);
    expect(boundaries).toEqual([...CHUNK_BUCKETS]);
    expect(boundaries[0]).toBeLessThanOrEqual(0.001);
    const bucket = counts.indexOf(1);
    expect(bucket).toBeGreaterThan(0);
    expect(boundaries[bucket]).toBeGreaterThanOrEqual(0.006);
    expect(boundaries[bucket]).toBeLessThanOrEqual(0.01);
  });
});
