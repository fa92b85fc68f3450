import { circuitBreaker as bulwarkBreaker } from '@bulwark/breaker';
import { bulkhead as bulwarkBulkhead } from '@bulwark/bulkhead';
import { type Policy, wrap } from '@bulwark/core';
import { instrument } from '@bulwark/otel';
import { retry as bulwarkRetry } from '@bulwark/retry';
import { timeout as bulwarkTimeout } from '@bulwark/timeout';
import {
  ConsecutiveBreaker,
  circuitBreaker as cockatielBreaker,
  bulkhead as cockatielBulkhead,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap as cockatielWrap,
  ExponentialBackoff,
  handleAll,
  type IPolicy,
  TimeoutStrategy,
} from 'cockatiel';
import { Bench } from 'tinybench';
import { type Summary, summarize } from '../lib/stats.js';

export interface OverheadRow {
  name: string;
  bulwarkNs: Summary;
  cockatielNs: Summary | undefined;
}

const value = { ok: true };
const resolved = () => Promise.resolve(value);

/** Cost per call above awaiting the operation itself, in ns, median of `rounds` tinybench runs. */
export async function overhead(options: { rounds: number; timeMs: number }): Promise<OverheadRow[]> {
  const ours: Array<[string, Policy, IPolicy | undefined]> = [
    ['timeout', bulwarkTimeout(1_000), cockatielTimeout(1_000, TimeoutStrategy.Cooperative)],
    [
      'retry',
      bulwarkRetry({ maxAttempts: 3 }),
      cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    ],
    [
      'circuitBreaker',
      bulwarkBreaker(),
      cockatielBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
    ],
    ['bulkhead', bulwarkBulkhead({ limit: 64, queue: 64 }), cockatielBulkhead(64, 64)],
    [
      'wrap(timeout, retry, breaker, bulkhead)',
      wrap(
        bulwarkTimeout(1_000),
        bulwarkRetry({ maxAttempts: 3 }),
        bulwarkBreaker(),
        bulwarkBulkhead({ limit: 64, queue: 64 }),
      ),
      cockatielWrap(
        cockatielTimeout(1_000, TimeoutStrategy.Cooperative),
        cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
        cockatielBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
        cockatielBulkhead(64, 64),
      ),
    ],
    [
      'instrument(wrap(…)), no OTel SDK',
      instrument(
        wrap(
          bulwarkTimeout(1_000),
          bulwarkRetry({ maxAttempts: 3 }),
          bulwarkBreaker(),
          bulwarkBulkhead({ limit: 64, queue: 64 }),
        ),
      ),
      undefined,
    ],
  ];
  const samples = new Map<string, number[]>();
  const push = (key: string, ns: number) => {
    const list = samples.get(key) ?? [];
    list.push(ns);
    samples.set(key, list);
  };
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({ time: options.timeMs, warmup: true });
    bench.add('baseline', async () => {
      await resolved();
    });
    for (const [name, policy, theirs] of ours) {
      bench.add(`bulwark ${name}`, async () => {
        await policy.execute(resolved);
      });
      if (theirs) {
        bench.add(`cockatiel ${name}`, async () => {
          await theirs.execute(resolved);
        });
      }
    }
    await bench.run();
    const mean = (name: string) =>
      ((bench.getTask(name)?.result as { latency?: { mean: number } })?.latency?.mean ?? Number.NaN) * 1e6;
    const baseline = mean('baseline');
    for (const task of bench.tasks) if (task.name !== 'baseline') push(task.name, mean(task.name) - baseline);
  }
  return ours.map(([name, , theirs]) => ({
    name,
    bulwarkNs: summarize(samples.get(`bulwark ${name}`) ?? []),
    cockatielNs: theirs ? summarize(samples.get(`cockatiel ${name}`) ?? []) : undefined,
  }));
}
