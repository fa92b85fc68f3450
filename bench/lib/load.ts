export interface LoadResult {
  /** Calls completed per second (failures included). */
  perSecond: number;
  completed: number;
  failed: number;
  /** Latency of every call, in ms. */
  latencies: number[];
}

/**
 * Runs `call` from `concurrency` workers until `durationMs` has passed (or `maxCalls` calls were
 * started), and measures completions per second.
 */
export async function runLoad(
  call: (index: number) => Promise<unknown>,
  options: { concurrency: number; durationMs: number; maxCalls?: number },
): Promise<LoadResult> {
  const latencies: number[] = [];
  let started = 0;
  let failed = 0;
  const begin = performance.now();
  const end = begin + options.durationMs;
  const maxCalls = options.maxCalls ?? Number.POSITIVE_INFINITY;
  const worker = async () => {
    while (performance.now() < end && started < maxCalls) {
      const index = started++;
      const t0 = performance.now();
      try {
        await call(index);
      } catch {
        failed++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsed = (performance.now() - begin) / 1000;
  return { perSecond: latencies.length / elapsed, completed: latencies.length, failed, latencies };
}
