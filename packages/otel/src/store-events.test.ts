import { Emitter } from '@bulwark/core';
import { trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { instrumentStores } from './index.js';
import { type Harness, type MetricPoint, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));

/** A store as `@bulwark/redis` makes them: its backend stops and starts answering. */
function fakeStore() {
  const unavailable = new Emitter<{ store: string; error: unknown }>();
  const available = new Emitter<{ store: string; unavailableMs: number }>();
  return { unavailable, available, onUnavailable: unavailable.event, onAvailable: available.event };
}

const storeEvents = (points: MetricPoint[], name: string, store: string) =>
  points.find(
    (point) =>
      point.name === 'bulwark.events' &&
      point.attributes['bulwark.event.name'] === name &&
      point.attributes['bulwark.store.name'] === store,
  )?.value;

describe('instrumentStores()', () => {
  it('counts each fallback to local state and each return, per store, and marks the active span', async () => {
    const bulkhead = fakeStore();
    const budget = fakeStore();
    const stop = instrumentStores(bulkhead, budget);
    const tracer = trace.getTracer('test');
    tracer.startActiveSpan('call', (span) => {
      bulkhead.unavailable.emit({ store: 'bulkhead', error: new Error('Connection is closed.') });
      span.end();
    });
    bulkhead.available.emit({ store: 'bulkhead', unavailableMs: 1_500 });
    budget.unavailable.emit({ store: 'retry budget', error: new Error('timeout') });
    bulkhead.unavailable.emit({ store: 'bulkhead', error: new Error('again') });
    const points = await otel.metrics();
    expect(storeEvents(points, 'store_unavailable', 'bulkhead')).toBe(2);
    expect(storeEvents(points, 'store_available', 'bulkhead')).toBe(1);
    expect(storeEvents(points, 'store_unavailable', 'retry_budget')).toBe(1);
    const span = otel.spans().find((candidate) => candidate.name === 'call');
    expect(span?.events.map((event) => event.name)).toEqual(['bulwark.store.unavailable']);
    expect(span?.events[0]?.attributes?.['bulwark.store.name']).toBe('bulkhead');
    // Stopped: nothing more is counted.
    stop.dispose();
    bulkhead.available.emit({ store: 'bulkhead', unavailableMs: 10 });
    expect(storeEvents(await otel.metrics(), 'store_available', 'bulkhead')).toBe(1);
  });
});
