import { type Context, ManualClock, noop, ResponseError, TimeoutError, wrap } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { DURATION_BUCKETS, TOKEN_BUCKETS } from './semconv.js';
import { type Harness, type MetricPoint, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));

const HOST = 'http://127.0.0.1:11434';

const final = (model: string, extra: Record<string, unknown> = {}) => ({
  model: `${model}:latest`,
  message: { role: 'assistant', content: 'hello' },
  done: true,
  done_reason: 'stop',
  prompt_eval_count: 12,
  eval_count: 4,
  ...extra,
});

const chat = (model: string, stream = false) => ({
  operation: 'chat',
  model,
  host: HOST,
  provider: 'ollama',
  request: { model, messages: [{ role: 'user', content: 'hi' }], stream },
});

function find(points: MetricPoint[], name: string, attributes: Record<string, unknown> = {}): MetricPoint[] {
  return points.filter(
    (point) =>
      point.name === name &&
      Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
  );
}

function histogram(point: MetricPoint | undefined) {
  expect(point).toBeDefined();
  return point?.value as { count: number; sum: number; boundaries: number[] };
}

/** Streams: commit after 150 ms, end 300 ms later (4 output tokens: 3 gaps of 0.1 s). */
const streamOperation = (clock: ManualClock, model: string) => async (context: Context) => {
  clock.advance(150);
  context.commit();
  clock.advance(300);
  return final(model);
};

describe('metrics', () => {
  it('records the v1.41.1 GenAI metrics with their units, buckets and attributes', async () => {
    const clock = new ManualClock();
    await instrument(noop()).execute(streamOperation(clock, 'model-a'), {
      clock,
      attributes: chat('model-a', true),
    });
    const points = await otel.metrics();
    const model = { 'gen_ai.request.model': 'model-a' };

    const [duration] = find(points, 'gen_ai.client.operation.duration', model);
    expect(duration?.unit).toBe('s');
    expect(duration?.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': 'model-a',
      'gen_ai.response.model': 'model-a:latest',
      'server.address': '127.0.0.1',
      'server.port': 11434,
    });
    expect(histogram(duration)).toMatchObject({ count: 1, sum: 0.45, boundaries: [...DURATION_BUCKETS] });

    const usage = find(points, 'gen_ai.client.token.usage', model);
    expect(usage.map((point) => point.unit)).toEqual(['{token}', '{token}']);
    expect(
      Object.fromEntries(usage.map((point) => [point.attributes['gen_ai.token.type'], histogram(point).sum])),
    ).toEqual({ input: 12, output: 4 });
    expect(histogram(usage[0]).boundaries).toEqual([...TOKEN_BUCKETS]);

    const [toFirst] = find(points, 'gen_ai.client.operation.time_to_first_chunk', model);
    expect(toFirst?.unit).toBe('s');
    expect(histogram(toFirst)).toMatchObject({ count: 1, sum: 0.15 });
    const [perChunk] = find(points, 'gen_ai.client.operation.time_per_output_chunk', model);
    expect(histogram(perChunk).count).toBe(1);
    expect(histogram(perChunk).sum).toBeCloseTo(0.1, 10);

    expect(find(points, 'gen_ai.client.inference.duration')).toEqual([]);
  });

  it('does not record time per output chunk when switched off; times the first chunk of non-streams too', async () => {
    const clock = new ManualClock();
    await instrument(noop(), { timePerOutputChunk: false }).execute(streamOperation(clock, 'model-b'), {
      clock,
      attributes: chat('model-b', true),
    });
    // A non-streamed answer: the transport reports its first chunk after 80 ms, never a commit.
    await instrument(noop()).execute(
      async (context: Context) => {
        clock.advance(80);
        context.firstChunk();
        clock.advance(200);
        return final('model-c');
      },
      { clock, attributes: chat('model-c') },
    );
    // A call that never received a chunk has no time to first chunk.
    await instrument(noop()).execute(async () => final('model-c2'), { clock, attributes: chat('model-c2') });
    const points = await otel.metrics();
    expect(
      find(points, 'gen_ai.client.operation.time_to_first_chunk', { 'gen_ai.request.model': 'model-b' }),
    ).toHaveLength(1);
    expect(
      find(points, 'gen_ai.client.operation.time_per_output_chunk', { 'gen_ai.request.model': 'model-b' }),
    ).toEqual([]);
    const [nonStreamed] = find(points, 'gen_ai.client.operation.time_to_first_chunk', {
      'gen_ai.request.model': 'model-c',
    });
    expect(histogram(nonStreamed)).toMatchObject({ count: 1, sum: 0.08 });
    expect(
      find(points, 'gen_ai.client.operation.time_per_output_chunk', { 'gen_ai.request.model': 'model-c' }),
    ).toEqual([]);
    expect(
      find(points, 'gen_ai.client.operation.time_to_first_chunk', { 'gen_ai.request.model': 'model-c2' }),
    ).toEqual([]);
    expect(
      find(points, 'gen_ai.client.operation.duration', { 'gen_ai.request.model': 'model-c2' }),
    ).toHaveLength(1);
  });

  it('emits the semantic-conventions-genai names when asked for "latest", and both sets for "both"', async () => {
    const clock = new ManualClock();
    await instrument(noop(), { semconv: 'latest' }).execute(streamOperation(clock, 'model-d'), {
      clock,
      attributes: chat('model-d', true),
    });
    await instrument(noop(), { semconv: 'both' }).execute(streamOperation(clock, 'model-e'), {
      clock,
      attributes: chat('model-e', true),
    });
    await instrument(noop(), { semconv: 'latest' }).execute(
      async () => ({ model: 'embed-f', embeddings: [[1]], prompt_eval_count: 5 }),
      { attributes: { operation: 'embed', model: 'embed-f', host: HOST, provider: 'ollama' } },
    );
    const points = await otel.metrics();
    const d = { 'gen_ai.request.model': 'model-d' };
    expect(find(points, 'gen_ai.client.operation.duration', d)).toEqual([]);
    expect(find(points, 'gen_ai.client.token.usage', d)).toEqual([]);
    expect(histogram(find(points, 'gen_ai.client.inference.duration', d)[0]).sum).toBe(0.45);
    expect(histogram(find(points, 'gen_ai.client.inference.time_to_first_chunk', d)[0]).sum).toBe(0.15);
    expect(find(points, 'gen_ai.client.inference.time_per_output_chunk', d)).toHaveLength(1);
    const input = find(points, 'gen_ai.client.inference.usage.input_tokens', d);
    expect(
      input.map((point) => [point.unit, point.value, point.attributes['gen_ai.token.modality']]),
    ).toEqual([['{token}', 12, 'text']]);
    expect(find(points, 'gen_ai.client.inference.usage.output_tokens', d)[0]?.value).toBe(4);
    expect(histogram(find(points, 'gen_ai.client.inference.operation.input_tokens', d)[0]).sum).toBe(12);
    expect(histogram(find(points, 'gen_ai.client.inference.operation.output_tokens', d)[0]).sum).toBe(4);

    const e = { 'gen_ai.request.model': 'model-e' };
    expect(find(points, 'gen_ai.client.operation.duration', e)).toHaveLength(1);
    expect(find(points, 'gen_ai.client.inference.duration', e)).toHaveLength(1);

    const f = { 'gen_ai.request.model': 'embed-f' };
    expect(find(points, 'gen_ai.client.embeddings.duration', f)).toHaveLength(1);
    expect(histogram(find(points, 'gen_ai.client.embeddings.operation.input_tokens', f)[0]).sum).toBe(5);
    expect(find(points, 'gen_ai.client.inference.duration', f)).toEqual([]);
  });

  it('counts retries, give-ups and timeouts by phase and model on bulwark.events', async () => {
    const policy = instrument(
      wrap(
        retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), budget: false }),
        timeout({ attemptMs: 60_000 }),
      ),
      { name: 'events-pipeline' },
    );
    let calls = 0;
    await expect(
      policy.execute(
        async () => {
          calls++;
          if (calls === 1) throw new ResponseError({ status: 503 });
          throw new TimeoutError({ phase: 'first-token', timeoutMs: 2_000, elapsedMs: 2_001 });
        },
        { attributes: chat('model-g') },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    const points = await otel.metrics();
    const events = find(points, 'bulwark.events', { 'bulwark.pipeline.name': 'events-pipeline' });
    const count = (name: string, extra: Record<string, unknown> = {}) =>
      find(events, 'bulwark.events', { 'bulwark.event.name': name, ...extra }).reduce(
        (sum, point) => sum + (point.value as number),
        0,
      );
    expect(events[0]?.unit).toBe('{event}');
    expect(count('retry')).toBe(2);
    expect(count('give_up')).toBe(1);
    expect(
      count('timeout', { 'bulwark.timeout.phase': 'first-token', 'gen_ai.request.model': 'model-g' }),
    ).toBe(2);

    const [failed] = find(points, 'gen_ai.client.operation.duration', {
      'gen_ai.request.model': 'model-g',
      'error.type': 'ERR_BULWARK_TIMEOUT',
    });
    expect(histogram(failed).count).toBe(1);

    const attempts = find(points, 'bulwark.attempt.duration', { 'bulwark.pipeline.name': 'events-pipeline' });
    expect(attempts[0]?.unit).toBe('s');
    expect(
      attempts
        .map((point) => [point.attributes['bulwark.attempt.number'], point.attributes['error.type']])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([
      [0, '503'],
      [1, 'ERR_BULWARK_TIMEOUT'],
      [2, 'ERR_BULWARK_TIMEOUT'],
    ]);
  });

  it('counts a cancel and records the duration without error.type', async () => {
    const controller = new AbortController();
    const pending = instrument(noop(), { name: 'cancel-pipeline' }).execute(
      (context) =>
        new Promise((_resolve, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true }),
        ),
      { signal: controller.signal, attributes: chat('model-h') },
    );
    controller.abort(new Error('left'));
    await expect(pending).rejects.toThrow('left');
    const points = await otel.metrics();
    expect(
      find(points, 'bulwark.events', {
        'bulwark.pipeline.name': 'cancel-pipeline',
        'bulwark.event.name': 'cancelled',
      })[0]?.value,
    ).toBe(1);
    const [duration] = find(points, 'gen_ai.client.operation.duration', {
      'gen_ai.request.model': 'model-h',
    });
    expect(duration?.attributes['error.type']).toBeUndefined();
  });

  it('records bulwark.pipeline.duration for other backends, with error.type on failure and no URL path', async () => {
    const policy = instrument(noop(), { name: 'search' });
    await policy.execute(async () => 'ok', {
      attributes: {
        operation: 'query',
        host: 'https://user:pass@search.internal:9200/index/_search?q=secret',
      },
    });
    await expect(
      policy.execute(
        async () => {
          throw new Error('boom');
        },
        { attributes: { operation: 'query' } },
      ),
    ).rejects.toThrow('boom');
    const points = find(await otel.metrics(), 'bulwark.pipeline.duration', {
      'bulwark.pipeline.name': 'search',
    });
    expect(points.map((point) => point.attributes)).toEqual(
      expect.arrayContaining([
        {
          'bulwark.pipeline.name': 'search',
          'bulwark.operation': 'query',
          'server.address': 'search.internal',
          'server.port': 9200,
        },
        { 'bulwark.pipeline.name': 'search', 'bulwark.operation': 'query', 'error.type': '_OTHER' },
      ]),
    );
    const text = JSON.stringify(points);
    expect(text).not.toContain('pass');
    expect(text).not.toContain('_search');
  });
});
