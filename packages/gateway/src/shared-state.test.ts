// Two gateway instances in front of one simulator, sharing one Redis: a bulkhead of 2 per model
// holds across both (the simulator never runs more than 2 generations), where two instances on
// their own let 4 through.
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from '../../../test/support/redis-server.js';
import { startGateway } from './start-gateway.js';
import type { Gateway } from './types.js';

const available = redisServerAvailable();
let server: RedisServer | undefined;
let sim: OllamaSim | undefined;
let gateways: Gateway[] = [];
beforeAll(async () => {
  if (available) server = await startRedisServer();
}, 20_000);
afterAll(async () => {
  await server?.close();
});
afterEach(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close()));
  await sim?.close();
  gateways = [];
  sim = undefined;
});

async function chat(url: string): Promise<number> {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
      options: { num_predict: 8 },
    }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  expect(text).toContain('"done":true');
  return response.status;
}

/** Twelve streamed chats at once, six through each gateway; the most generations the simulator ran at once. */
async function burst(redis: string | undefined): Promise<number> {
  sim = await startOllamaSim({ numParallel: 4, tokenDelayMs: 20 });
  const upstream = sim.url;
  gateways = await Promise.all(
    [0, 1].map(() =>
      startGateway({
        upstream,
        port: 0,
        env: {},
        bulkhead: { limit: 2, queue: 64 },
        ...(redis === undefined ? {} : { redis }),
      }),
    ),
  );
  const statuses = await Promise.all(
    Array.from({ length: 12 }, (_, index) => chat((gateways[index % 2] as Gateway).url)),
  );
  expect(statuses).toEqual(Array(12).fill(200));
  return sim.stats().maxGenerating;
}

describe.runIf(available)('several gateway instances sharing one Redis', () => {
  it('keep one bulkhead of 2 per model: the simulator never runs more than 2 generations', async () => {
    expect(await burst(server?.url)).toBe(2);
  }, 30_000);

  it('without Redis, each instance has its own 2: the simulator runs more than 2 at once', async () => {
    expect(await burst(undefined)).toBeGreaterThan(2);
  }, 30_000);

  it('refuses a Redis URL of another scheme without echoing it', async () => {
    await expect(
      startGateway({ upstream: 'http://127.0.0.1:1', redis: 'http://user:s3cret@host:6379' }),
    ).rejects.toThrow(/^startGateway\(\): option "redis" must be a redis:\/\/ or rediss:\/\/ URL$/);
  });
});
