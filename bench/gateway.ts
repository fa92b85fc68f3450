// `pnpm build && tsx bench/gateway.ts [--quick]`: the gateway suite of `pnpm bench`
// alone: added latency per call and streaming throughput against a direct connection.
import { BENCH_SIM, startSimProcess } from './lib/sim-process.js';
import { gatewayOverhead } from './suites/gateway.js';

const quick = process.argv.includes('--quick');
const sim = await startSimProcess(BENCH_SIM);
try {
  const result = await gatewayOverhead(
    sim.url,
    quick ? { rounds: 5, calls: 50, chunks: 20_000 } : { rounds: 5, calls: 500, chunks: 100_000 },
  );
  const added = result.addedP50Ms.median;
  const share = result.gatewayChunksPerSecond.median / result.directChunksPerSecond.median;
  console.log(
    `direct p50 ${result.directP50Ms.median.toFixed(2)} ms, through the gateway ${result.gatewayP50Ms.median.toFixed(2)} ms`,
  );
  console.log(
    `gateway added p50 per call: ${added.toFixed(2)} ms (target ≤ 1) ${added <= 1 ? 'met' : 'BELOW TARGET'}`,
  );
  console.log(
    `streamed chunks/s: direct ${Math.round(result.directChunksPerSecond.median)}, through the gateway ${Math.round(result.gatewayChunksPerSecond.median)}`,
  );
  console.log(
    `gateway streaming / direct: ${share.toFixed(2)} (target ≥ 0.8) ${share >= 0.8 ? 'met' : 'BELOW TARGET'}`,
  );
} finally {
  await sim.close();
}
