import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { instrument } from './index.js';
import { type Harness, type MetricPoint, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

/* Loads the client owns (a cold model on a simulator with `loadMs`): the load-time histogram and the span event. */

const LOAD_MS = 400;

let otel: Harness;
let sim: OllamaSim | undefined;
const clients: Ollama[] = [];

beforeAll(() => {
  otel = registerOtel();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await sim?.close();
  sim = undefined;
  otel.exporter.reset();
});
afterAll(() => unregisterOtel(otel));

const ask = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello' }] });

function loadPoints(points: MetricPoint[], model: string, source: string): MetricPoint[] {
  return points.filter(
    (point) =>
      point.name === 'bulwark.model.load.duration' &&
      point.attributes['gen_ai.request.model'] === model &&
      point.attributes['bulwark.model.load.source'] === source,
  );
}
const histogram = (point: MetricPoint | undefined) =>
  point?.value as { count: number; sum: number } | undefined;

const loadEvents = (spans: ReadableSpan[]) =>
  spans.flatMap((span) =>
    span.events.filter((event) => event.name === 'bulwark.model.load').map((event) => ({ span, event })),
  );

describe('model loads the client owns', () => {
  it('5 calls on a cold model: one load-time point with the load’s time, a span event on each waiting attempt, none once warm', async () => {
    sim = await startOllamaSim({ models: ['cold-a'], loadMs: LOAD_MS });
    const ollama = new Ollama({
      host: sim.url,
      policy: retry({ maxAttempts: 2, budget: false }),
      instrument,
    });
    clients.push(ollama);

    await Promise.all(Array.from({ length: 5 }, () => ollama.chat(ask('cold-a'))));
    expect(sim.stats().loads).toBe(1);

    const [load, ...more] = loadPoints(await otel.metrics(), 'cold-a', 'client');
    expect(more).toEqual([]);
    expect(load?.attributes).toMatchObject({
      'gen_ai.provider.name': 'ollama',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(sim.url).port),
      'bulwark.model.load.outcome': 'success',
    });
    expect(histogram(load)?.count).toBe(1);
    // The simulator holds the load for LOAD_MS; a loaded machine adds delay, never removes it.
    expect(histogram(load)?.sum).toBeGreaterThanOrEqual((LOAD_MS - 20) / 1000);
    expect(histogram(load)?.sum).toBeLessThan(10);
    // The answers after the load report the warm model's load_duration: not recorded for calls that waited.
    expect(loadPoints(await otel.metrics(), 'cold-a', 'server')).toEqual([]);

    const events = loadEvents(otel.spans());
    expect(events).toHaveLength(5);
    for (const { span, event } of events) {
      expect(span.name).toBe('bulwark.attempt');
      expect(event.attributes).toMatchObject({
        'bulwark.model.load.wait.outcome': 'loaded',
        'bulwark.attempt.number': 0,
      });
      expect(Number(event.attributes?.['bulwark.model.load.elapsed'])).toBeGreaterThanOrEqual(
        (LOAD_MS - 20) / 1000,
      );
      expect(Number(event.attributes?.['bulwark.model.load.wait.duration'])).toBeGreaterThan(0);
      expect(Number(event.attributes?.['bulwark.model.load.wait.duration'])).toBeLessThanOrEqual(
        Number(event.attributes?.['bulwark.model.load.elapsed']),
      );
    }

    // Warm: no wait, no event, no second client point; the answer's load_duration is the server's.
    otel.exporter.reset();
    await ollama.chat(ask('cold-a'));
    expect(loadEvents(otel.spans())).toEqual([]);
    expect(histogram(loadPoints(await otel.metrics(), 'cold-a', 'client')[0])?.count).toBe(1);
    expect(histogram(loadPoints(await otel.metrics(), 'cold-a', 'server')[0])?.count).toBe(1);
  }, 20_000);

  it('a call that stops waiting gets a `left` event and records no point; the next load a call sees end is one `success` point', async () => {
    sim = await startOllamaSim({ models: ['cold-b'], loadMs: 600 });
    const ollama = new Ollama({
      host: sim.url,
      policy: wrap(retry({ maxAttempts: 1, budget: false }), timeout({ totalMs: 150 })),
      instrument,
    });
    clients.push(ollama);
    const early = await ollama.chat(ask('cold-b')).catch((error: unknown) => error);
    expect(early).toMatchObject({ phase: 'load' });
    // The total deadline rejects the call at once; the attempt ends (and its span with it) just after.
    await vi.waitFor(() => expect(loadEvents(otel.spans())).toHaveLength(1), { timeout: 2_000 });
    const [left] = loadEvents(otel.spans());
    expect(left?.event.attributes).toMatchObject({ 'bulwark.model.load.wait.outcome': 'left' });
    expect(loadPoints(await otel.metrics(), 'cold-b', 'client')).toEqual([]);

    const patient = new Ollama({
      host: sim.url,
      policy: retry({ maxAttempts: 1, budget: false }),
      instrument,
    });
    clients.push(patient);
    // A second client: its own load of the same model (the first client's load goes on alone).
    await patient.chat(ask('cold-b'));
    const points = loadPoints(await otel.metrics(), 'cold-b', 'client');
    expect(points.map((point) => histogram(point)?.count)).toEqual([1]);
    expect(points[0]?.attributes['bulwark.model.load.outcome']).toBe('success');
  }, 20_000);

  it('a load that fails is one `error` point, and each waiting attempt’s event says `failed`', async () => {
    sim = await startOllamaSim({ models: ['cold-c'], loadMs: 100 });
    sim.setFaults([{ route: '/api/generate', status: 500, times: 1, body: { error: 'out of memory' } }]);
    const ollama = new Ollama({
      host: sim.url,
      policy: retry({ maxAttempts: 1, budget: false }),
      instrument,
    });
    clients.push(ollama);
    const errors = await Promise.all(
      Array.from({ length: 3 }, () => ollama.chat(ask('cold-c')).catch((error: unknown) => error)),
    );
    expect(errors.every((error) => error instanceof Error)).toBe(true);
    const events = loadEvents(otel.spans());
    expect(events.map(({ event }) => event.attributes?.['bulwark.model.load.wait.outcome'])).toEqual([
      'failed',
      'failed',
      'failed',
    ]);
    const points = loadPoints(await otel.metrics(), 'cold-c', 'client');
    expect(
      points.map((point) => [point.attributes['bulwark.model.load.outcome'], histogram(point)?.count]),
    ).toEqual([['error', 1]]);
  }, 20_000);
});
