/**
 * What instrument() costs per call: no SDK, an SDK that samples nothing, and a recording SDK.
 * Run: npx tsx --conditions=bulwark-source packages/otel/bench/overhead.ts
 */
import { definePolicy, noop, wrap } from '@bulwark/core';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Bench } from 'tinybench';
import { instrument } from '../src/index.js';

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const attributes = {
  operation: 'chat',
  model: 'llama3.2',
  host: 'http://127.0.0.1:11434',
  provider: 'ollama',
  request: { model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], options: { temperature: 0.2 } },
};
const answer = { model: 'llama3.2', done: true, done_reason: 'stop', prompt_eval_count: 12, eval_count: 40 };
const operation = async () => answer;

async function run(label: string, setup: () => void): Promise<void> {
  setup();
  const bare = noop();
  const pass = () => definePolicy((context, next) => next(context));
  const layered = wrap(pass(), noop(), pass());
  const instrumented = instrument(noop());
  const bench = new Bench({ time: 1_000, warmup: true });
  bench
    .add(`${label}: noop() alone`, () => bare.execute(operation, { attributes }))
    .add(`${label}: wrap(pass, noop(), pass)`, () => layered.execute(operation, { attributes }))
    .add(`${label}: instrument(noop())`, () => instrumented.execute(operation, { attributes }));
  await bench.run();
  for (const task of bench.tasks) {
    const result = task.result as { latency?: { mean: number; p99?: number }; throughput?: { mean: number } };
    const meanUs = (result.latency?.mean ?? Number.NaN) * 1000;
    const p99Us = (result.latency?.p99 ?? Number.NaN) * 1000;
    console.log(`${task.name.padEnd(48)} mean ${meanUs.toFixed(2)} µs  p99 ${p99Us.toFixed(2)} µs`);
  }
  trace.disable();
  metrics.disable();
  context.disable();
}

await run('no SDK', () => {});
await run('SDK, sampled out, no metrics', () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: new AlwaysOffSampler() }));
});
await run('SDK recording spans and metrics', () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider());
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }));
});
