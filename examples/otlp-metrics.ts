// Bulwark's metrics pushed over OTLP/HTTP, to Prometheus's OTLP receiver (Prometheus 3:
// `--web.enable-otlp-receiver`) or an OpenTelemetry Collector. Prometheus then names durations with
// their unit (`gen_ai_client_operation_duration_seconds_bucket`).
//
// Run: npx tsx --conditions=bulwark-source examples/otlp-metrics.ts

import { startOllamaSim } from '@bulwark/ollama-sim';
import { metrics } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createOllama } from 'bulwark';

// Every 15 s to Prometheus's OTLP endpoint (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT overrides the URL).
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: 'http://127.0.0.1:9090/api/v1/otlp/v1/metrics' }),
      exportIntervalMillis: 15_000,
    }),
  ],
});
metrics.setGlobalMeterProvider(meterProvider);

const sim = await startOllamaSim();
const ollama = createOllama({ host: process.env.OLLAMA_HOST ?? sim.url });
try {
  const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello' }] });
  console.log(answer.message.content);
} finally {
  await ollama.close();
  await sim.close();
  await meterProvider.shutdown();
}
