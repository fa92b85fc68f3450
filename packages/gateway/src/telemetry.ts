import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Counter, type Histogram, metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { type IMetricReader, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

/** Seconds, from 5 ms to 5 minutes (time to first chunk spans a warm token to a cold load). */
const FIRST_CHUNK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The OTLP/HTTP metrics URL the standard variables ask for, or `undefined` for none. */
export function otlpMetricsUrl(env: Record<string, string | undefined>): string | undefined {
  const exporters = (env.OTEL_METRICS_EXPORTER ?? 'otlp').split(',').map((name) => name.trim());
  if (!exporters.includes('otlp')) return undefined;
  const specific = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  if (specific) return specific;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/metrics` : undefined;
}

/** The gateway's metrics: its own instruments, a Prometheus handler, and OTLP export when asked. */
export interface GatewayTelemetry {
  readonly requests: Counter;
  readonly shed: Counter;
  readonly timeToFirstChunk: Histogram;
  /** Whether this gateway's provider is the global one (then the pipeline's `bulwark.*` metrics are in it). */
  readonly global: boolean;
  readonly otlpUrl: string | undefined;
  serveMetrics(request: IncomingMessage, response: ServerResponse): void;
  close(): Promise<void>;
}

export function createGatewayTelemetry(env: Record<string, string | undefined>): GatewayTelemetry {
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  const otlpUrl = otlpMetricsUrl(env);
  if (otlpUrl !== undefined) {
    const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL);
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: otlpUrl }),
        exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
      }),
    );
  }
  const provider = new MeterProvider({ readers });
  // The gateway is an application: its provider becomes the global one, unless the host process
  // registered its own first (then the pipeline's metrics go there).
  const global = metrics.setGlobalMeterProvider(provider);
  const meter = provider.getMeter('@bulwark/gateway');
  return {
    requests: meter.createCounter('bulwark.gateway.requests', {
      description: 'Requests the gateway answered, by route and status.',
      unit: '{request}',
    }),
    shed: meter.createCounter('bulwark.gateway.shed', {
      description: 'Requests the gateway refused with 503 because Bulwark shed load, by reason.',
      unit: '{request}',
    }),
    timeToFirstChunk: meter.createHistogram('bulwark.gateway.time_to_first_chunk', {
      description: 'Time from a request arriving to the first byte of its answer body leaving the gateway.',
      unit: 's',
      advice: { explicitBucketBoundaries: FIRST_CHUNK_BUCKETS },
    }),
    global,
    otlpUrl,
    serveMetrics: (request, response) => prometheus.getMetricsRequestHandler(request, response),
    async close() {
      if (global) metrics.disable();
      await provider.shutdown().catch(() => {});
    },
  };
}
