// `pnpm build && tsx bench/telemetry-micro.ts`: CPU time per call of recording telemetry
// around a resolved chat, with a recording SDK (spans into a no-op processor, metrics into a
// reader that is never collected): `@bulwark/otel` against the hand-written floor, both around the
// same retry policy. CPU time (process.cpuUsage) rather than wall time, so that other processes on a
// loaded machine disturb it less; the contenders run interleaved in batches of 2,000 calls and the
// median and 25th percentile of the batches are reported. Still, figures need a quiet machine.
// `--quick`: a short run that checks the harness.
import { type Context, wrap } from '@bulwark/core';
import { createInstrumentation } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { assertBuilt } from './lib/built.js';
import { formatNumber, summarize } from './lib/stats.js';
import { telemetryFloor } from './lib/telemetry-floor.js';

assertBuilt();

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

const host = 'http://127.0.0.1:11434';
const model = 'llama3.2';
const attributes = {
  operation: 'chat',
  model,
  host,
  provider: 'ollama',
  request: { model, messages: [{ role: 'user', content: 'hi' }] },
};
const answer = {
  model,
  done: true,
  done_reason: 'stop',
  prompt_eval_count: 12,
  eval_count: 40,
  load_duration: 1e6,
};
const operation = async (context: Context) => {
  context.firstChunk();
  return answer;
};

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }));
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }));

const base = () => retry({ maxAttempts: 3 });
const contenders = {
  'retry() alone': wrap(base()),
  'retry() + @bulwark/otel': createInstrumentation()(base()),
  'retry() + hand-written floor': telemetryFloor({ model, host })(base()),
};
const quick = process.argv.includes('--quick');
// Small batches, the contenders interleaved batch by batch, so that a burst of load from other
// processes hits every contender alike; the first rounds warm up.
const batch = 2_000;
const rounds = quick ? 8 : 60;
const warmup = quick ? 2 : 5;
const samples = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, policy] of Object.entries(contenders)) {
    const start = process.cpuUsage();
    for (let index = 0; index < batch; index++) await policy.execute(operation, { attributes });
    const used = process.cpuUsage(start);
    if (round >= warmup) samples.get(name)?.push(((used.user + used.system) * 1000) / batch);
  }
}
/** The q-quantile of a contender's batches (q = 0.25 is less disturbed by other processes than the median). */
const quantile = (name: string, q: number) => {
  const sorted = [...(samples.get(name) ?? [])].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] ?? Number.NaN;
};
for (const name of samples.keys())
  console.log(
    `${name.padEnd(32)} ${formatNumber(summarize(samples.get(name) ?? []).median)} ns CPU per call (median), ${formatNumber(quantile(name, 0.25))} (p25)`,
  );
for (const [label, q] of [
  ['median', 0.5],
  ['p25', 0.25],
] as const) {
  const alone = quantile('retry() alone', q);
  const bulwarkCost = quantile('retry() + @bulwark/otel', q) - alone;
  const floorCost = quantile('retry() + hand-written floor', q) - alone;
  console.log(
    `recording cost (${label}): @bulwark/otel ${formatNumber(bulwarkCost)} ns, floor ${formatNumber(floorCost)} ns: ${formatNumber(bulwarkCost / floorCost, 2)}× the floor (target ≤ 1.1×)`,
  );
}
