// `pnpm build && tsx bench/telemetry-cost.ts [--quick]`: only the telemetry rows of the
// throughput suite (full pipeline, with a recording SDK, and the hand-written floor), at c=32, for a
// look at the recording cost without running every benchmark. Figures need a quiet machine.
import { startSimProcess } from './lib/sim-process.js';
import { formatNumber, type Summary } from './lib/stats.js';
import { FLOOR, throughput } from './suites/throughput.js';

const quick = process.argv.includes('--quick');
const FULL = 'bulwark, full pipeline';
const RECORDING = 'bulwark, full + recording OTel';
const sim = await startSimProcess({ models: ['llama3.2'], numParallel: 2_048, requestLogLimit: 0 });
try {
  const [row] = await throughput(sim.url, {
    concurrencies: [32],
    rounds: quick ? 3 : 7,
    durationMs: quick ? 200 : 1_500,
    only: [FULL, RECORDING, FLOOR],
  });
  const c = row?.contenders ?? {};
  const show = (name: string) => {
    const summary = c[name] as Summary | undefined;
    return summary ? `${formatNumber(summary.median)} ±${Math.round(summary.spread * 50)}%` : '—';
  };
  const ratio = (a: string, b: string) => (c[a]?.median ?? Number.NaN) / (c[b]?.median ?? Number.NaN);
  for (const name of [FULL, RECORDING, FLOOR]) console.log(`${name.padEnd(44)} ${show(name)} chats/s`);
  console.log(
    `full + recording OTel / full pipeline: ${formatNumber(ratio(RECORDING, FULL), 2)} (target ≥ 0.8)`,
  );
  console.log(`floor / full + recording OTel: ${formatNumber(ratio(FLOOR, RECORDING), 2)}× (target ≤ 1.1×)`);
  console.log(`floor / full pipeline: ${formatNumber(ratio(FLOOR, FULL), 2)}`);
} finally {
  await sim.close();
}
