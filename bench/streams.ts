// `pnpm build && pnpm exec tsx bench/streams.ts [--quick] [--no-streaming] [--no-throughput]`:
// the stream and pipeline targets alone (the full pipeline beside raw undici at c=1/32/256, a long
// stream beside a raw line reader), for a profile (`node --cpu-prof --import tsx …`) or repeated runs.
// Ratios are compared within one run; the figures need a quiet machine.
import { BENCH_SIM, startSimProcess } from './lib/sim-process.js';
import { formatNumber, ratio } from './lib/stats.js';
import { streaming } from './suites/streaming.js';
import { throughput } from './suites/throughput.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const value = (name: string, fallback: number) => {
  const index = args.indexOf(name);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const rounds = value('--rounds', 5);
const durationMs = value('--duration-ms', quick ? 300 : 1_500);
const concurrencies = args.includes('--c') ? [value('--c', 32)] : [1, 32, 256];

const sim = await startSimProcess(BENCH_SIM);
try {
  if (!args.includes('--no-throughput')) {
    const rows = await throughput(sim.url, {
      concurrencies,
      rounds,
      durationMs,
      only: ['raw undici.request', 'bulwark, full pipeline'],
    });
    for (const row of rows) {
      const c = row.contenders;
      console.log(
        `c=${row.concurrency}: raw ${formatNumber(c['raw undici.request']?.median ?? 0)}/s, full pipeline ${formatNumber(c['bulwark, full pipeline']?.median ?? 0)}/s, ratio ${formatNumber(ratio(c['bulwark, full pipeline'], c['raw undici.request']), 2)}`,
      );
    }
  }
  if (!args.includes('--no-streaming')) {
    const st = await streaming(sim.url, {
      chunks: quick ? 20_000 : 100_000,
      rounds,
      roundMs: quick ? 0 : 1_000,
    });
    console.log(
      `streaming: raw line reader ${formatNumber(st['raw undici line reader']?.median ?? 0)}/s, bulwark ${formatNumber(st.bulwark?.median ?? 0)}/s, ratio ${formatNumber(ratio(st.bulwark, st['raw undici line reader']), 2)}`,
    );
  }
} finally {
  await sim.close();
}
