import { InvalidOptionError } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from '../../../test/support/redis-server.js';
import { redisSharedState } from './redis-shared-state.js';

const available = redisServerAvailable();
let server: RedisServer;
const clients: Redis[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function client(port: number): Redis {
  const redis = new Redis(port, '127.0.0.1', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  redis.on('error', () => {});
  clients.push(redis);
  return redis;
}

describe.skipIf(!available)('redisSharedState()', () => {
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await server?.close();
  });

  it('rejects bad options naming them', () => {
    const redis = client(server.port);
    expect(() => redisSharedState({ client: redis, whenUnavailable: 'fail' })).toThrowError(
      /"whenUnavailable" must be "local"/,
    );
    expect(() => redisSharedState({ client: redis, commandTimeoutMs: 0 })).toThrowError(InvalidOptionError);
    expect(() => new Ollama({ sharedState: {} as never })).toThrowError(/"sharedState"/);
  });

  it('keeps warm times, load claims and ejections with TTLs measured by Redis', async () => {
    const redis = client(server.port);
    await redis.connect();
    const store = redisSharedState({ client: redis, prefix: 'ttl' });
    const hosts = ['http://a:11434', 'http://b:11434'];
    expect(await store.read(hosts, 'llama3.2:latest')).toEqual([
      { host: hosts[0], warmMs: 0, loading: false, ejectedMs: 0 },
      { host: hosts[1], warmMs: 0, loading: false, ejectedMs: 0 },
    ]);
    // One claim at a time; the holder renews it; another process is told the model is loading.
    expect(await store.claimLoad(hosts[0] as string, 'llama3.2:latest', 'one', 300)).toEqual({
      state: 'claimed',
    });
    expect(await store.claimLoad(hosts[0] as string, 'llama3.2:latest', 'two', 300)).toEqual({
      state: 'loading',
    });
    expect(await store.claimLoad(hosts[0] as string, 'llama3.2:latest', 'one', 300)).toEqual({
      state: 'claimed',
    });
    expect((await store.read(hosts, 'llama3.2:latest'))?.[0]?.loading).toBe(true);
    // A claim whose holder went silent expires on the server's clock.
    await sleep(450);
    expect(await store.claimLoad(hosts[0] as string, 'llama3.2:latest', 'two', 300)).toEqual({
      state: 'claimed',
    });
    await store.endLoad(hosts[0] as string, 'llama3.2:latest', 'two', 60_000);
    const [first] = (await store.read(hosts, 'llama3.2:latest')) ?? [];
    expect(first?.loading).toBe(false);
    expect(first?.warmMs).toBeGreaterThan(55_000);
    expect(first?.warmMs).toBeLessThanOrEqual(60_000);
    const claim = await store.claimLoad(hosts[0] as string, 'llama3.2:latest', 'three', 300);
    expect(claim?.state).toBe('warm');
    // Forever, then cold.
    await store.setWarm(hosts[1] as string, 'llama3.2:latest', Number.POSITIVE_INFINITY);
    expect((await store.read(hosts, 'llama3.2:latest'))?.[1]?.warmMs).toBe(Number.POSITIVE_INFINITY);
    await store.setWarm(hosts[1] as string, 'llama3.2:latest', 0);
    expect((await store.read(hosts, 'llama3.2:latest'))?.[1]?.warmMs).toBe(0);
    // An ejection is only lengthened by another, and ends on its own.
    await store.setEjected(hosts[1] as string, 200);
    await store.setEjected(hosts[1] as string, 100);
    const ejectedMs = (await store.read(hosts, undefined))?.[1]?.ejectedMs ?? 0;
    expect(ejectedMs).toBeGreaterThan(100);
    await sleep(300);
    expect((await store.read(hosts, undefined))?.[1]?.ejectedMs).toBe(0);
  });

  it('without Redis, a client goes on with its own state, with an event each way', async () => {
    const sim = await startOllamaSim({
      models: [{ name: 'llama3.2', tokenDelayMs: 1, replyTokens: 3, loadMs: 50 }],
    });
    const spare = await startRedisServer();
    const redis = client(spare.port);
    await redis.connect();
    const store = redisSharedState({ client: redis, commandTimeoutMs: 200, retryUnavailableMs: 100 });
    const events: string[] = [];
    store.onUnavailable(({ store: name }) => events.push(`unavailable ${name}`));
    store.onAvailable(({ store: name }) => events.push(`available ${name}`));
    const ollama = new Ollama({ host: sim.url, sharedState: store });
    try {
      await spare.stop();
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 3 }, () =>
          ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
        ),
      );
      expect(answers.map((answer) => answer.done)).toEqual([true, true, true]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(events).toEqual(['unavailable shared state']);
      // It loaded the model itself (one load for its callers) and knows it warm.
      expect(sim.stats().loads).toBe(1);
      expect(ollama.modelStates().map((model) => model.state)).toEqual(['warm']);
      await spare.restart();
      await redis.connect().catch(() => {});
      const deadline = Date.now() + 5_000;
      while (!store.available && Date.now() < deadline) {
        await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
        await sleep(50);
      }
      expect(events).toEqual(['unavailable shared state', 'available shared state']);
    } finally {
      await ollama.close();
      await sim.close();
      await spare.close();
    }
  }, 20_000);
});
