// The cost of sharing a bulkhead and a breaker through Redis: added latency per call against a
// local redis-server, and throughput against the simulator with and without the shared state.
import { pathToFileURL } from 'node:url';
import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { type Policy, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { redisBreakerStore, redisBulkheadStore } from '@bulwark/redis';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../test/support/redis-server.js';
import { MODEL } from '../lib/contenders.js';
import { runLoad } from '../lib/load.js';
import { quantile, type Summary, summarize } from '../lib/stats.js';

export interface RedisResult {
  /** Per-call latency of bulkhead + breaker around a resolved operation, in µs. */
  localP50Us: Summary;
  localP99Us: Summary;
  sharedP50Us: Summary;
  sharedP99Us: Summary;
  /** Non-streamed chats per second through bulkhead + breaker, kept locally and in Redis. */
  localPerSecond: Summary;
  sharedPerSecond: Summary;
}

const value = { ok: true };

// The breaker listens on a second connection for breakers opening elsewhere, so a closed breaker
// costs no round trip: a call makes one round trip before it (the slot) and one after (its release).
function pipelines(redis: Redis, subscriber: Redis): { local: Policy; shared: Policy } {
  return {
    local: wrap(circuitBreaker({ key: 'model' }), bulkhead({ key: 'model', limit: 64, queue: 1_000 })),
    shared: wrap(
      circuitBreaker({
        key: 'model',
        store: redisBreakerStore({ client: redis, prefix: 'bench', subscriber }),
      }),
      bulkhead({
        key: 'model',
        limit: 64,
        queue: 1_000,
        store: redisBulkheadStore({ client: redis, prefix: 'bench' }),
      }),
    ),
  };
}

async function latencies(policy: Policy, samples: number): Promise<number[]> {
  const out: number[] = [];
  const attributes = { model: MODEL };
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await policy.execute(() => value, { attributes });
    out.push((performance.now() - t0) * 1_000);
  }
  return out;
}

export async function redisOverhead(
  simUrl: string,
  options: { rounds: number; samples: number; durationMs: number; concurrency: number },
): Promise<RedisResult> {
  const server = await startRedisServer();
  const redis = new Redis(server.port, '127.0.0.1', { enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  await subscriber.connect();
  const { local, shared } = pipelines(redis, subscriber);
  const p50 = { local: [] as number[], shared: [] as number[] };
  const p99 = { local: [] as number[], shared: [] as number[] };
  const perSecond = { local: [] as number[], shared: [] as number[] };
  const clients = {
    local: new Ollama({ host: simUrl, policy: local }),
    shared: new Ollama({ host: simUrl, policy: shared }),
  };
  try {
    await latencies(shared, 200); // warm-up: scripts loaded, code optimised
    for (let round = 0; round < options.rounds; round++) {
      for (const name of ['local', 'shared'] as const) {
        const policy = name === 'local' ? local : shared;
        const times = await latencies(policy, options.samples);
        p50[name].push(quantile(times, 0.5));
        p99[name].push(quantile(times, 0.99));
        const client = clients[name];
        const load = await runLoad(
          () => client.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
          { concurrency: options.concurrency, durationMs: options.durationMs },
        );
        perSecond[name].push(load.perSecond);
      }
    }
  } finally {
    await clients.local.close();
    await clients.shared.close();
    redis.disconnect();
    subscriber.disconnect();
    await server.close();
  }
  return {
    localP50Us: summarize(p50.local),
    localP99Us: summarize(p99.local),
    sharedP50Us: summarize(p50.shared),
    sharedP99Us: summarize(p99.shared),
    localPerSecond: summarize(perSecond.local),
    sharedPerSecond: summarize(perSecond.shared),
  };
}

// `pnpm build && tsx bench/suites/redis.ts`: this suite alone, against an in-process simulator.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  (await import('../lib/built.js')).assertBuilt();
  const { startOllamaSim } = await import('@bulwark/ollama-sim');
  const sim = await startOllamaSim({ models: [MODEL], numParallel: 2_048, requestLogLimit: 0 });
  try {
    const result = await redisOverhead(sim.url, {
      rounds: 3,
      samples: 2_000,
      durationMs: 500,
      concurrency: 32,
    });
    const show = (summary: Summary) => summary.median.toFixed(0);
    console.log(
      `bulkhead + breaker per call, local:  p50 ${show(result.localP50Us)} µs, p99 ${show(result.localP99Us)} µs`,
    );
    console.log(
      `bulkhead + breaker per call, Redis:  p50 ${show(result.sharedP50Us)} µs, p99 ${show(result.sharedP99Us)} µs`,
    );
    console.log(
      `chats/s at c=32, local ${show(result.localPerSecond)}, Redis ${show(result.sharedPerSecond)}`,
    );
  } finally {
    await sim.close();
  }
}
