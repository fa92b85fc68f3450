// The cost of wrap(timeout, retry) around an operation that is already resolved, against the same
// two cockatiel policies wrapped the same way. It measures the built packages:
//   npx tsc -b packages/retry packages/timeout && npx tsx packages/retry/bench/overhead.ts
import { wrap } from '@bulwark/core';
import {
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap as cockatielWrap,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
} from 'cockatiel';
import { Bench } from 'tinybench';
import { timeout } from '../../timeout/dist/index.js';
import { retry } from '../dist/index.js';

const value = { ok: true };
const resolved = () => Promise.resolve(value);

const ours = wrap(timeout(1_000), retry({ maxAttempts: 3 }));
const oursNoBudget = wrap(timeout(1_000), retry({ maxAttempts: 3, budget: false }));
// cockatiel's maxAttempts counts retries: 2 retries = 3 attempts
const theirs = (strategy: TimeoutStrategy) =>
  cockatielWrap(
    cockatielTimeout(1_000, strategy),
    cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  );
const aggressive = theirs(TimeoutStrategy.Aggressive);
const cooperative = theirs(TimeoutStrategy.Cooperative);

const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 1_500), warmup: true });
bench
  .add('baseline: await the operation', async () => {
    await resolved();
  })
  .add('bulwark wrap(timeout, retry)', async () => {
    await ours.execute(resolved);
  })
  .add('bulwark wrap(timeout, retry), budget: false', async () => {
    await oursNoBudget.execute(resolved);
  })
  .add('cockatiel wrap(timeout aggressive, retry)', async () => {
    await aggressive.execute(resolved);
  })
  .add('cockatiel wrap(timeout cooperative, retry)', async () => {
    await cooperative.execute(resolved);
  });

await bench.run();

const meanNs = (name: string): number => {
  const task = bench.getTask(name);
  const result = task?.result as { latency?: { mean: number } } | undefined;
  if (!result?.latency) throw new Error(`no result for ${name}`);
  return result.latency.mean * 1e6;
};
const baseline = meanNs('baseline: await the operation');
const rows = bench.tasks.map((task) => {
  const mean = meanNs(task.name);
  return { task: task.name, 'mean ns': Math.round(mean), 'overhead ns': Math.round(mean - baseline) };
});
console.table(rows);
const overhead = (name: string) => meanNs(name) - baseline;
const ratio = (a: string, b: string) => (overhead(a) / overhead(b)).toFixed(2);
console.log(
  `overhead ratio bulwark / cockatiel (aggressive timeout): ${ratio('bulwark wrap(timeout, retry)', 'cockatiel wrap(timeout aggressive, retry)')}`,
);
console.log(
  `overhead ratio bulwark / cockatiel (cooperative timeout): ${ratio('bulwark wrap(timeout, retry)', 'cockatiel wrap(timeout cooperative, retry)')}`,
);
