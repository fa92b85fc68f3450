import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { wrap } from '@bulwark/core';
import { instrument } from '@bulwark/otel';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterEach, expect, it } from 'vitest';

afterEach(() => {
  metrics.disable();
});

it('reports the gauges of every breaker key and every bulkhead key', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
  const policy = instrument(
    wrap(circuitBreaker({ key: 'model' }), bulkhead({ key: 'model', limit: 1, queue: 4 })),
  );
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const calls = ['a', 'b', 'b'].map((model) =>
    policy.execute(() => gate, { attributes: { model, operation: 'chat' } }),
  );
  await reader.forceFlush();
  const points = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>();
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        points.set(
          metric.descriptor.name,
          metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value })),
        );
      }
    }
  }
  const executing = points.get('bulwark.bulkhead.executing') ?? [];
  const queued = points.get('bulwark.bulkhead.queued') ?? [];
  expect(executing.map((p) => [p.attributes['bulwark.bulkhead.key'], p.value]).sort()).toEqual([
    ['a', 1],
    ['b', 1],
  ]);
  expect(queued.find((p) => p.attributes['bulwark.bulkhead.key'] === 'b')?.value).toBe(1);
  const closed = (points.get('bulwark.circuit_breaker.state') ?? []).filter(
    (p) => p.attributes['bulwark.circuit_breaker.state'] === 'closed' && p.value === 1,
  );
  expect(closed.map((p) => p.attributes['bulwark.circuit_breaker.key']).sort()).toEqual(['a', 'b']);
  release();
  await Promise.all(calls);
  await provider.shutdown();
});
