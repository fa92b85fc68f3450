// Two gateway instances in front of one simulator, sharing one Redis: a bulkhead of 2 per model
// holds across both (the simulator never runs more than 2 generations), where two instances on
// their own let 4 through. In front of two simulators, one failing: an upstream one instance
// ejected is avoided by the other, which never failed on it, and shown ejected on its page.
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
let sims: OllamaSim[] = [];
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
  await Promise.all(sims.map((one) => one.close()));
  gateways = [];
  sim = undefined;
  sims = [];
});

async function chat(url: string, content = 'hi'): Promise<number> {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: 'llama3.2',
      messages: [{ role: 'user', content }],
      options: { num_predict: 8 },
    }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  expect(text).toContain('"done":true');
  return response.status;
}

/** Whether the live page's server-sent events show the upstream at `url` ejected within 5 s. */
async function pushedEjected(gateway: Gateway, url: string): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5_000);
  try {
    const response = await fetch(`${gateway.url}/_bulwark/events`, { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffer += decoder.decode(read.value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data === undefined) continue;
        const state = JSON.parse(data.slice(6)) as { upstreams: Array<{ url: string; health: string }> };
        if (state.upstreams.find((upstream) => upstream.url === url)?.health === 'ejected') return true;
      }
    }
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
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

  it('keep one view of the fleet: an upstream ejected by one instance is avoided by the other', async () => {
    const failing = await startOllamaSim({
      models: ['llama3.2'],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    const healthy = await startOllamaSim({ models: ['llama3.2'] });
    sims = [failing, healthy];
    const chats = (one: OllamaSim) => one.requests.filter((entry) => entry.route === '/api/chat').length;
    gateways = await Promise.all(
      [0, 1].map(() =>
        startGateway({
          upstreams: [failing.url, healthy.url],
          port: 0,
          env: {},
          // One failure ejects a host (for 30 s, far beyond this test).
          fleet: { consecutiveFailures: 1 },
          redis: server?.url,
        }),
      ),
    );
    const [a, b] = gateways as [Gateway, Gateway];
    const stateOf = async (gateway: Gateway, url: string) => {
      const response = await fetch(`${gateway.url}/_bulwark/state`, { signal: AbortSignal.timeout(5_000) });
      const state = (await response.json()) as {
        upstreams: Array<{ url: string; health: string; ejectedUntil?: number; consecutiveFailures: number }>;
      };
      return state.upstreams.find((upstream) => upstream.url === url);
    };

    // Through A until routing has tried the failing upstream: it failed over, and A ejected it.
    for (let index = 0; index < 40 && chats(failing) === 0; index++) {
      expect(await chat(a.url, `a ${index}`)).toBe(200);
    }
    expect(chats(failing)).toBe(1);
    expect((await stateOf(a, failing.url))?.health).toBe('ejected');

    // B never sent it anything, yet its live page is pushed it ejected (within a refresh or two),
    // and its state says so.
    expect(await pushedEjected(b, failing.url)).toBe(true);
    const seenByB = await stateOf(b, failing.url);
    expect(seenByB?.health).toBe('ejected');
    expect(seenByB?.consecutiveFailures).toBe(0);
    expect(seenByB?.ejectedUntil).toBeGreaterThan(Date.now() + 10_000);
    expect((await stateOf(b, healthy.url))?.health).toBe('healthy');

    // Twelve calls through B all go to the healthy upstream: none reaches the failing one.
    const before = chats(healthy);
    for (let index = 0; index < 12; index++) expect(await chat(b.url, `b ${index}`)).toBe(200);
    expect(chats(failing)).toBe(1);
    expect(chats(healthy) - before).toBe(12);
  }, 30_000);

  it('refuses a Redis URL of another scheme without echoing it', async () => {
    await expect(
      startGateway({ upstream: 'http://127.0.0.1:1', redis: 'http://user:s3cret@host:6379' }),
    ).rejects.toThrow(/^startGateway\(\): option "redis" must be a redis:\/\/ or rediss:\/\/ URL$/);
  });
});
