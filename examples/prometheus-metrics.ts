// Bulwark's metrics on a Prometheus /metrics endpoint: the OpenTelemetry SDK with the Prometheus
// exporter, a few chats against the simulator (one of them hangs until its first-token budget
// fires), then the per-call outcome lines of what Prometheus would scrape.
//
// Run: npx tsx --conditions=bulwark-source examples/prometheus-metrics.ts
import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { AggregationType, MeterProvider } from '@opentelemetry/sdk-metrics';

const port = Number(process.env.METRICS_PORT ?? 9464);

// Metrics on http://127.0.0.1:9464/metrics, for Prometheus to scrape.
const exporter = new PrometheusExporter({ host: '127.0.0.1', port });
const meterProvider = new MeterProvider({ readers: [exporter] });
metrics.setGlobalMeterProvider(meterProvider);

// Bulwark's histograms come with bucket advice for LLM calls (up to 900 s). To choose others, add a View:
export const customBuckets = new MeterProvider({
  readers: [],
  views: [
    {
      instrumentName: 'gen_ai.client.operation.duration',
      aggregation: {
        type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM,
        options: { boundaries: [1, 5, 10, 30, 60, 120, 300, 600] },
      },
    },
  ],
});

// An Ollama stand-in: the chat that says "hang" never answers.
const sim = await startOllamaSim({
  faults: [
    { route: '/api/chat', kind: 'hang', when: (request) => JSON.stringify(request.body).includes('hang') },
  ],
});
const ollama = new Ollama({
  host: process.env.OLLAMA_HOST ?? sim.url,
  policy: wrap(retry({ maxAttempts: 2, initialDelayMs: 10 }), timeout({ firstTokenMs: 500 })),
  instrument,
});

try {
  for (const content of ['Why is the sky blue?', 'hang', 'And the sea?'])
    await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content }] }).catch(() => {});
  const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of scrape.split('\n')) if (line.startsWith('bulwark_calls_total')) console.log(line);
} finally {
  await ollama.close();
  await sim.close();
  await meterProvider.shutdown();
  await customBuckets.shutdown();
}
