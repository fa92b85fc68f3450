import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { Ollama as OfficialOllama } from 'ollama';
import { ask } from '../lib/contenders.js';
import { runLoad } from '../lib/load.js';
import { quantile, type Summary, summarize } from '../lib/stats.js';

export interface FaultResult {
  name: string;
  perSecond: Summary;
  p99Ms: Summary;
  failedShare: number;
}

/**
 * Throughput and p99 with 10% of calls answered 503 and 5% hung (the simulator child draws them):
 * Bulwark with timeout + retry against the official package with a hand-rolled retry loop.
 */
export async function faults(
  url: string,
  options: { rounds: number; durationMs: number; concurrency: number; budgetMs: number },
): Promise<FaultResult[]> {
  const { budgetMs } = options;
  const bulwark = new Ollama({
    host: url,
    policy: wrap(
      timeout({ totalMs: budgetMs * 4 }),
      retry({ maxAttempts: 3, initialDelayMs: 20 }),
      timeout({ firstTokenMs: budgetMs }),
    ),
  });
  /** What a careful user writes around the official client: an AbortController timeout and retries. */
  const handRolled = async () => {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), budgetMs);
      try {
        const client = new OfficialOllama({
          host: url,
          fetch: (input, init) => fetch(input, { ...init, signal: controller.signal }),
        });
        return await client.chat(ask());
      } catch (error) {
        last = error;
        await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      } finally {
        clearTimeout(timer);
      }
    }
    throw last;
  };
  const contenders: Array<[string, () => Promise<unknown>]> = [
    ['bulwark timeout + retry', () => bulwark.chat(ask())],
    ['official + hand-rolled retry', handRolled],
  ];
  const perSecond = new Map<string, number[]>();
  const p99 = new Map<string, number[]>();
  const failed = new Map<string, { failed: number; total: number }>();
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, call] of contenders) {
      const result = await runLoad(call, {
        concurrency: options.concurrency,
        durationMs: options.durationMs,
      });
      perSecond.set(name, [...(perSecond.get(name) ?? []), result.perSecond]);
      p99.set(name, [...(p99.get(name) ?? []), quantile(result.latencies, 0.99)]);
      const tally = failed.get(name) ?? { failed: 0, total: 0 };
      failed.set(name, { failed: tally.failed + result.failed, total: tally.total + result.completed });
    }
  }
  await bulwark.close();
  return contenders.map(([name]) => ({
    name,
    perSecond: summarize(perSecond.get(name) ?? []),
    p99Ms: summarize(p99.get(name) ?? []),
    failedShare: (failed.get(name)?.failed ?? 0) / Math.max(1, failed.get(name)?.total ?? 1),
  }));
}
