import { createInstrumentation } from '@bulwark/otel';
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ask, bulwark, type Contender, fullPipeline, MODEL, official, raw } from '../lib/contenders.js';
import { runLoad } from '../lib/load.js';
import { type Summary, summarize } from '../lib/stats.js';
import { telemetryFloor } from '../lib/telemetry-floor.js';
import { createWireClient } from '../lib/wire-client.js';

/**
 * The reference row: a bare socket client that sends the same streamed chat as the contenders but
 * parses no HTTP and no JSON. What it reaches is the most any client can reach against this
 * simulator on this machine, so a ratio above it is out of reach for every contender.
 */
export const REFERENCE = 'bare socket client (reference)';

/**
 * The telemetry floor row: the full pipeline with a minimal hand-written instrumentation that
 * emits the same spans and metric points through the same recording SDK.
 */
export const FLOOR = 'bulwark, full + hand-written OTel (floor)';

export interface ThroughputResult {
  concurrency: number;
  contenders: Record<string, Summary>;
}

/** Non-streamed chats per second, contenders interleaved round by round. */
export async function throughput(
  url: string,
  options: { concurrencies: number[]; rounds: number; durationMs: number; only?: string[] },
): Promise<ThroughputResult[]> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const meterProvider = new MeterProvider();
  const all: Contender[] = [
    raw(url),
    official(url),
    bulwark(url, 'bulwark, no policy'),
    bulwark(url, 'bulwark, full pipeline', fullPipeline()),
    bulwark(url, 'bulwark, full + recording OTel', fullPipeline(), createInstrumentation()),
    bulwark(url, FLOOR, fullPipeline(), telemetryFloor({ model: MODEL, host: url })),
  ];
  const only = options.only;
  const contenders = only ? all.filter((contender) => only.includes(contender.name)) : all;
  const results: ThroughputResult[] = [];
  try {
    for (const concurrency of options.concurrencies) {
      const rounds = new Map<string, number[]>([
        ...contenders.map((c) => [c.name, []] as [string, number[]]),
        [REFERENCE, []],
      ]);
      const reference = await createWireClient(url, {
        path: '/api/chat',
        body: { ...ask(), stream: true },
        connections: concurrency,
      });
      try {
        for (const contender of contenders)
          await runLoad(() => contender.chat(), { concurrency, durationMs: 100 });
        await reference.run(100);
        for (let round = 0; round < options.rounds; round++) {
          const bare = await reference.run(options.durationMs);
          rounds.get(REFERENCE)?.push(bare.answers / bare.seconds);
          for (const contender of contenders) {
            const otel = contender.name.includes('OTel');
            if (otel) {
              trace.setGlobalTracerProvider(tracerProvider);
              metrics.setGlobalMeterProvider(meterProvider);
            }
            const result = await runLoad(() => contender.chat(), {
              concurrency,
              durationMs: options.durationMs,
            });
            if (otel) {
              exporter.reset();
              trace.disable();
              metrics.disable();
            }
            if (result.failed > 0) throw new Error(`${contender.name}: ${result.failed} calls failed`);
            rounds.get(contender.name)?.push(result.perSecond);
          }
        }
      } finally {
        reference.close();
      }
      results.push({
        concurrency,
        contenders: Object.fromEntries([...rounds].map(([name, values]) => [name, summarize(values)])),
      });
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
  return results;
}
