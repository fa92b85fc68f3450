// `pnpm bench` (`--quick` for a run under a minute): Bulwark beside the baselines a user would
// otherwise pick, measured in one run against the simulator in a separate process. Every figure is
// the median of at least 5 rounds, with its spread. Targets below are reported, never enforced.
// It measures the built packages (`pnpm bench` runs `pnpm build` first); see lib/built.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { BENCH_SIM, startSimProcess } from './lib/sim-process.js';
import { formatNumber, ratio, type Summary } from './lib/stats.js';
import { renderTable } from './lib/table.js';
import { faults } from './suites/faults.js';
import { runFleetSuite } from './suites/fleet.js';
import { gatewayOverhead } from './suites/gateway.js';
import { memory } from './suites/memory.js';
import { overhead } from './suites/overhead.js';
import { precision } from './suites/precision.js';
import { redisOverhead } from './suites/redis.js';
import { simulatorCapacity } from './suites/simulator.js';
import { streaming } from './suites/streaming.js';
import { FLOOR, REFERENCE, throughput } from './suites/throughput.js';

const quick = process.argv.includes('--quick');
const config = quick
  ? {
      rounds: 5,
      durationMs: 100,
      concurrencies: [1, 32, 256],
      chunks: 20_000,
      benchMs: 60,
      samples: 20,
      streams: 200,
      few: 500,
      many: 2_000,
      faultMs: 200,
      simMs: 200,
      streamMs: 0,
      gatewayCalls: 50,
    }
  : {
      rounds: 5,
      durationMs: 1_500,
      concurrencies: [1, 32, 256],
      chunks: 100_000,
      benchMs: 500,
      samples: 200,
      streams: 1_000,
      few: 10_000,
      many: 100_000,
      faultMs: 3_000,
      simMs: 1_000,
      streamMs: 1_000,
      gatewayCalls: 500,
    };

const findings: string[] = [];
const target = (what: string, value: number, limit: number, above: boolean, unit = '') => {
  const met = above ? value >= limit : value <= limit;
  const line = `${what}: ${formatNumber(value, 2)}${unit} (target ${above ? '≥' : '≤'} ${limit}${unit}) ${met ? 'met' : 'BELOW TARGET'}`;
  findings.push(line);
};
const show = (summary: Summary | undefined, digits = 0) =>
  summary ? `${formatNumber(summary.median, digits)} ±${Math.round(summary.spread * 50)}%` : '—';

const sim = await startSimProcess(BENCH_SIM);
const faultSim = await startSimProcess({
  models: ['llama3.2'],
  numParallel: 2_048,
  requestLogLimit: 0,
  faultMix: { busy: 0.1, hang: 0.05, seed: 7 },
});
const started = performance.now();
const results: Record<string, unknown> = {};
try {
  console.log(
    `Bulwark benchmarks${quick ? ' (quick)' : ''}: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}\n`,
  );

  const tp = await throughput(sim.url, {
    concurrencies: config.concurrencies,
    rounds: config.rounds,
    durationMs: config.durationMs,
  });
  results.throughput = tp;
  const names = Object.keys(tp[0]?.contenders ?? {});
  console.log('1. Non-streamed chats per second (median ± half the spread)');
  console.log(
    renderTable(
      ['client', ...tp.map((row) => `c=${row.concurrency}`)],
      names.map((name) => [name, ...tp.map((row) => show(row.contenders[name]))]),
    ),
  );
  for (const row of tp) {
    const c = row.contenders;
    target(
      `c=${row.concurrency} bulwark no policy / raw undici`,
      ratio(c['bulwark, no policy'], c['raw undici.request']),
      0.8,
      true,
    );
    target(
      `c=${row.concurrency} bulwark no policy / official ollama`,
      ratio(c['bulwark, no policy'], c['official ollama']),
      3,
      true,
      '×',
    );
    findings.push(
      `c=${row.concurrency} ${REFERENCE} / official ollama: ${formatNumber(ratio(c[REFERENCE], c['official ollama']), 2)}× (a client that parses nothing: about the ceiling of any client against this simulator here)`,
    );
    target(
      `c=${row.concurrency} full pipeline / raw undici`,
      ratio(c['bulwark, full pipeline'], c['raw undici.request']),
      row.concurrency >= 256 ? 0.8 : 0.9,
      true,
    );
    target(
      `c=${row.concurrency} full pipeline / official ollama`,
      ratio(c['bulwark, full pipeline'], c['official ollama']),
      4,
      true,
      '×',
    );
    target(
      `c=${row.concurrency} full + recording OTel / full pipeline`,
      ratio(c['bulwark, full + recording OTel'], c['bulwark, full pipeline']),
      0.8,
      true,
    );
    target(
      `c=${row.concurrency} telemetry cost over its floor (floor / full + recording OTel)`,
      ratio(c[FLOOR], c['bulwark, full + recording OTel']),
      1.1,
      false,
      '×',
    );
  }

  const st = await streaming(sim.url, {
    chunks: config.chunks,
    rounds: config.rounds,
    roundMs: config.streamMs,
  });
  results.streaming = st;
  console.log(
    `\n2. Streamed chunks per second (${formatNumber(config.chunks)}-chunk answers${config.streamMs ? `, ${formatNumber(config.streamMs / 1000)} s a round` : ''})`,
  );
  console.log(
    renderTable(
      ['client', 'chunks/s'],
      Object.entries(st).map(([name, summary]) => [name, show(summary)]),
    ),
  );
  target('streaming bulwark / raw undici', ratio(st.bulwark, st['raw undici line reader']), 0.95, true);

  const ov = await overhead({ rounds: config.rounds, timeMs: config.benchMs });
  results.overhead = ov;
  console.log('\n3. Policy overhead per call around a resolved operation (ns)');
  console.log(
    renderTable(
      ['policy', 'bulwark', 'cockatiel', 'ratio'],
      ov.map((row) => [
        row.name,
        show(row.bulwarkNs),
        show(row.cockatielNs),
        row.cockatielNs ? formatNumber(ratio(row.bulwarkNs, row.cockatielNs), 2) : '—',
      ]),
    ),
  );
  const wrapped = ov.find((row) => row.name.startsWith('wrap('));
  target('wrap() overhead / cockatiel', ratio(wrapped?.bulwarkNs, wrapped?.cockatielNs), 1.5, false, '×');

  const pr = await precision(sim, { samples: config.samples, budgetMs: 200, batch: 50 });
  results.precision = pr;
  console.log(`\n4. Timeout precision: fired − budget (ms), ${config.samples} samples each`);
  console.log(
    renderTable(
      ['budget', 'size', 'p50', 'p99', 'max'],
      pr.map((row) => [
        row.budget,
        `${row.budgetMs} ms`,
        formatNumber(row.p50, 1),
        formatNumber(row.p99, 1),
        formatNumber(row.max, 1),
      ]),
    ),
  );
  for (const row of pr) target(`${row.budget} lateness p99`, row.p99, 50, false, ' ms');

  const mem = await memory(sim, { streams: config.streams, few: config.few, many: config.many });
  results.memory = mem;
  console.log('\n5. Memory');
  console.log(
    renderTable(
      ['measure', 'MiB'],
      [
        [`heap with ${mem.openStreams} open streams (above idle)`, formatNumber(mem.heapPerStreamsMiB, 1)],
        [`RSS with ${mem.openStreams} open streams (above idle)`, formatNumber(mem.rssPerStreamsMiB, 1)],
        [`heap after ${formatNumber(mem.few)} sequential calls`, formatNumber(mem.heapAfterFewMiB, 1)],
        [`heap after ${formatNumber(mem.many)} sequential calls`, formatNumber(mem.heapAfterManyMiB, 1)],
      ],
    ),
  );
  target(`heap for ${mem.openStreams} open streams`, mem.heapPerStreamsMiB, 64, false, ' MiB');
  target(
    'heap growth between few and many calls',
    mem.heapAfterManyMiB - mem.heapAfterFewMiB,
    5,
    false,
    ' MiB',
  );

  const fl = await faults(faultSim.url, {
    rounds: config.rounds,
    durationMs: config.faultMs,
    concurrency: 32,
    budgetMs: 250,
  });
  results.faults = fl;
  console.log('\n6. Under faults (10% 503, 5% hung; 250 ms first-token budget, 3 attempts)');
  console.log(
    renderTable(
      ['client', 'calls/s', 'p99 ms', 'failed'],
      fl.map((row) => [
        row.name,
        show(row.perSecond),
        show(row.p99Ms),
        `${formatNumber(row.failedShare * 100, 1)}%`,
      ]),
    ),
  );

  const sc = await simulatorCapacity(sim.url, {
    rounds: config.rounds,
    durationMs: config.simMs,
    connections: 32,
    chunks: config.chunks,
  });
  results.simulator = sc;
  console.log('\n7. Simulator capacity (bare socket client, 32 connections; one connection for the stream)');
  console.log(
    renderTable(
      ['measure', 'per second'],
      [
        ['small non-streamed chats', show(sc.chatsPerSecond)],
        [`streamed chunks (${formatNumber(config.chunks)}-chunk answers)`, show(sc.chunksPerSecond)],
      ],
    ),
  );
  target('simulator chats/s', sc.chatsPerSecond.median, 20_000, true);
  target('simulator chunks/s', sc.chunksPerSecond.median, 300_000, true);

  const rd = await redisOverhead(sim.url, {
    rounds: config.rounds,
    samples: quick ? 500 : 5_000,
    durationMs: config.durationMs,
    concurrency: 32,
  });
  results.redis = rd;
  console.log('\n8. Bulkhead + breaker with their state in a local Redis (µs per call; chats/s at c=32)');
  console.log(
    renderTable(
      ['state', 'p50 µs', 'p99 µs', 'chats/s'],
      [
        ['in the process', show(rd.localP50Us), show(rd.localP99Us), show(rd.localPerSecond)],
        ['in Redis', show(rd.sharedP50Us), show(rd.sharedP99Us), show(rd.sharedPerSecond)],
      ],
    ),
  );
  target(
    'added latency of Redis bulkhead + breaker, p99',
    (rd.sharedP99Us.median - rd.localP99Us.median) / 1_000,
    1,
    false,
    ' ms',
  );

  const gw = await gatewayOverhead(sim.url, {
    rounds: config.rounds,
    calls: config.gatewayCalls,
    chunks: config.chunks,
  });
  results.gateway = gw;
  console.log(
    '\n9. Gateway (its own process, default pipeline) against a direct connection, same undici client',
  );
  console.log(
    renderTable(
      ['measure', 'direct', 'through the gateway'],
      [
        [
          `p50 ms, ${config.gatewayCalls} sequential small chats`,
          show(gw.directP50Ms, 2),
          show(gw.gatewayP50Ms, 2),
        ],
        [
          `streamed chunks/s (${formatNumber(config.chunks)}-chunk answers)`,
          show(gw.directChunksPerSecond),
          show(gw.gatewayChunksPerSecond),
        ],
      ],
    ),
  );
  target('gateway added p50 per call', gw.addedP50Ms.median, 1, false, ' ms');
  target('gateway streaming / direct', ratio(gw.gatewayChunksPerSecond, gw.directChunksPerSecond), 0.8, true);
  results.fleet = await runFleetSuite(
    quick
      ? { rounds: 2, calls: 100, concurrency: 16 }
      : { rounds: config.rounds, calls: 1_000, concurrency: 16 },
    target,
  );
} finally {
  await sim.close();
  await faultSim.close();
}

console.log('\nTargets');
for (const line of findings) console.log(`  ${line}`);
console.log(`\nDone in ${formatNumber((performance.now() - started) / 1000, 1)} s`);
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/${quick ? 'quick' : 'latest'}.json`, import.meta.url);
writeFileSync(
  file,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, quick, results, findings }, null, 2)}\n`,
);
