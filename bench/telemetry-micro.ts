// `tsx --conditions=bulwark-source bench/telemetry-micro.ts`: CPU time per call of recording telemetry
// around a resolved chat, with a recording SDK (spans into a no-op processor, metrics into a
// reader that is never collected): `@bulwark/otel` against the hand-written floor, both around the
// same retry policy. CPU time (process.cpuUsage) rather than wall time, so that other processes on a
// loaded machine disturb it less; still, figures need a quiet machine.
import { type Context, wrap } from '@bulwark/core';
import { createInstrumentation } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { formatNumber, summarize } from './lib/stats.js';
import { telemetryFloor } from './lib/telemetry-floor.js';

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
const calls = quick ? 2_000 : 20_000;
const rounds = quick ? 3 : 9;
const samples = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < rounds + 1; round++) {
  for (const [name, policy] of Object.entries(contenders)) {
    const start = process.cpuUsage();
    for (let index = 0; index < calls; index++) await policy.execute(operation, { attributes });
    const used = process.cpuUsage(start);
    if (round > 0) samples.get(name)?.push(((used.user + used.system) * 1000) / calls);
  }
}
const median = (name: string) => summarize(samples.get(name) ?? []).median;
for (const name of samples.keys())
  console.log(`${name.padEnd(32)} ${formatNumber(median(name))} ns CPU per call`);
const alone = median('retry() alone');
const bulwarkCost = median('retry() + @bulwark/otel') - alone;
const floorCost = median('retry() + hand-written floor') - alone;
console.log(
  `recording cost: @bulwark/otel ${formatNumber(bulwarkCost)} ns, floor ${formatNumber(floorCost)} ns: ${formatNumber(bulwarkCost / floorCost, 2)}× the floor (target ≤ 1.1×)`,
);
