import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A metric reader the test collects from on demand. */
export class TestMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

export interface MetricPoint {
  name: string;
  unit: string;
  attributes: Record<string, unknown>;
  /** A counter's sum or a histogram's count, sum, boundaries and per-bucket counts. */
  value: number | { count: number; sum: number; boundaries: number[]; counts: number[] };
}

/** Flattens a collection into one entry per data point. */
export function points(result: CollectionResult): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const scope of result.resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
        const value = point.value;
        out.push({
          name: metric.descriptor.name,
          unit: metric.descriptor.unit,
          attributes: point.attributes,
          value:
            typeof value === 'number'
              ? value
              : {
                  count: value.count,
                  sum: value.sum ?? 0,
                  boundaries: value.buckets.boundaries,
                  counts: value.buckets.counts,
                },
        });
      }
    }
  }
  return out;
}

export interface Harness {
  exporter: InMemorySpanExporter;
  reader: TestMetricReader;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  spans(): ReadableSpan[];
  metrics(): Promise<MetricPoint[]>;
}

/** Registers an SDK (in-memory spans and metrics, async-local-storage context) as the global one. */
export function registerOtel(options: { traces?: boolean; metrics?: boolean } = {}): Harness {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  if (options.traces !== false) trace.setGlobalTracerProvider(tracerProvider);
  if (options.metrics !== false) metrics.setGlobalMeterProvider(meterProvider);
  return {
    exporter,
    reader,
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    metrics: async () => points(await reader.collect()),
  };
}

/** Removes every global provider, so the next test file starts from nothing. */
export async function unregisterOtel(harness?: Harness): Promise<void> {
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
  await harness?.tracerProvider.shutdown();
  await harness?.meterProvider.shutdown();
}

/** Every string found in a span's attributes, events and status. */
export function spanStrings(span: ReadableSpan): string[] {
  const out: string[] = [span.name, span.status.message ?? ''];
  const collect = (value: unknown) => {
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  for (const value of Object.values(span.attributes)) collect(value);
  for (const event of span.events) {
    out.push(event.name);
    for (const value of Object.values(event.attributes ?? {})) collect(value);
  }
  return out;
}
