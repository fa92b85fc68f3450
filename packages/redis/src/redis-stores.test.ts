import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConsecutiveBreaker, circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import {
  CircuitOpenError,
  InvalidOptionError,
  ResponseError,
  RetryBudgetExhaustedError,
  wrap,
} from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { TokenLimitError, tokenRateLimit } from '@bulwark/rate-limit';
import { retry } from '@bulwark/retry';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RedisServer,
  redisServerAvailable,
  startRedisServer,
} from '../../../test/support/redis-server.js';
import { redisBreakerStore } from './redis-breaker-store.js';
import { redisBulkheadStore } from './redis-bulkhead-store.js';
import { redisRetryBudgetStore } from './redis-retry-budget-store.js';
import { redisTokenStore } from './redis-token-store.js';
import { StoreUnavailableError } from './store-unavailable-error.js';
import type { RedisScriptClient } from './types.js';

const available = redisServerAvailable();
let server: RedisServer;
const clients: Redis[] = [];

async function client(): Promise<Redis> {
  const redis = new Redis(server.port, '127.0.0.1', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
    lazyConnect: true,
  });
  clients.push(redis);
  redis.on('error', () => {});
  await redis.connect();
  return redis;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error(`condition not met within ${withinMs} ms`);
    await sleep(10);
  }
  return Date.now() - started;
}

let prefixes = 0;
const prefix = () => `test${prefixes++}`;

describe.skipIf(!available)('Redis stores', () => {
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await server?.close();
  });

  it('accepts an ioredis client and rejects bad options naming them', async () => {
    const redis: RedisScriptClient = await client();
    expect(() => redisBulkheadStore({ client: redis, leaseMs: -1 })).toThrowError(/"leaseMs"/);
    expect(() => redisBulkheadStore({ client: {} as never })).toThrowError(InvalidOptionError);
    expect(() => redisBreakerStore({ client: redis, whenUnavailable: 'open' as never })).toThrowError(
      /"whenUnavailable"/,
    );
    expect(() => redisRetryBudgetStore({ client: redis, ttl: 1 } as never)).toThrowError(/"ttl"/);
    expect(() => bulkhead({ store: {} as never })).toThrowError(/"store"/);
    expect(() => circuitBreaker({ store: { admit() {} } as never })).toThrowError(/"store"/);
  });

  it('holds one limit across two bulkheads (two replicas) and serves each queue in order', async () => {
    const p = prefix();
    const replicas = [
      bulkhead({
        key: 'model',
        limit: 3,
        queue: 100,
        store: redisBulkheadStore({ client: await client(), prefix: p, pollMs: 5 }),
      }),
      bulkhead({
        key: 'model',
        limit: 3,
        queue: 100,
        store: redisBulkheadStore({ client: await client(), prefix: p, pollMs: 5 }),
      }),
    ];
    let running = 0;
    let maxRunning = 0;
    const order: number[][] = [[], []];
    const calls = Array.from({ length: 40 }, (_, index) =>
      (replicas[index % 2] as (typeof replicas)[number]).execute(
        async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          order[index % 2]?.push(index);
          await sleep(5);
          running--;
        },
        { attributes: { model: 'm' } },
      ),
    );
    await Promise.all(calls);
    expect(maxRunning).toBe(3);
    for (const seen of order) expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(order.flat()).toHaveLength(40);
  });

  it('keeps a slot held past its lease while the call runs, and gives it back when it ends', async () => {
    const p = prefix();
    const store = redisBulkheadStore({ client: await client(), prefix: p, leaseMs: 600 });
    const other = redisBulkheadStore({ client: await client(), prefix: p, leaseMs: 600 });
    const gate = deferred();
    const held = bulkhead({ limit: 1, store }).execute(() => gate.promise);
    await until(() => store.held('default') === 1, 2_000);
    await sleep(1_500);
    expect(await other.count('default')).toBe(1);
    expect(await other.tryAcquire('default', 1)).toBeUndefined();
    gate.resolve();
    await held;
    await until(async () => (await other.count('default')) === 0, 2_000);
    const lease = await other.tryAcquire('default', 1);
    expect(lease).toBeDefined();
    lease?.release();
  });

  it('returns a slot whose holder stopped renewing within the lease, measured by Redis', async () => {
    const p = prefix();
    const redis = await client();
    const store = redisBulkheadStore({ client: redis, prefix: p, leaseMs: 300 });
    // A lease taken by a script and never renewed is what a killed process leaves behind.
    await redis.eval(
      "local t = redis.call('TIME'); redis.call('ZADD', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000) + 300, 'dead'); return 1",
      1,
      `${p}:bulkhead:default`,
    );
    expect(await store.tryAcquire('default', 1)).toBeUndefined();
    const waitedMs = await until(async () => {
      const lease = await store.tryAcquire('default', 1);
      lease?.release();
      return lease !== undefined;
    }, 2_000);
    expect(waitedMs).toBeLessThan(1_000);
  });

  it('opens one breaker for two replicas and lets one probe through for both', async () => {
    const p = prefix();
    const make = async () =>
      circuitBreaker({
        key: 'model',
        breaker: () => new ConsecutiveBreaker(2),
        halfOpenAfterMs: 300,
        store: redisBreakerStore({ client: await client(), prefix: p }),
      });
    const [a, b] = [await make(), await make()];
    const attributes = { model: 'm' };
    const failure = () => Promise.reject(new ResponseError({ status: 500, serverMessage: 'boom' }));
    for (let i = 0; i < 2; i++)
      await expect(a.execute(failure, { attributes })).rejects.toMatchObject({ status: 500 });
    let ran = 0;
    await expect(b.execute(() => ran++, { attributes })).rejects.toBeInstanceOf(CircuitOpenError);
    expect(ran).toBe(0);
    expect(b.getState('m').state).toBe('open');
    await sleep(350);
    const probe = deferred();
    let settled = 0;
    const calls = [a, b, a, b].map((policy) =>
      policy
        .execute(
          async () => {
            ran++;
            await probe.promise;
            return 'probe';
          },
          { attributes },
        )
        .then(
          (value) => value,
          (error: unknown) => error,
        )
        .finally(() => settled++),
    );
    // Three are refused while the fourth, the only probe, is still running.
    await until(() => settled === 3, 5_000);
    expect(ran).toBe(1);
    probe.resolve();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((outcome) => outcome === 'probe')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome instanceof CircuitOpenError)).toHaveLength(3);
    await expect(b.execute(() => 'closed', { attributes })).resolves.toBe('closed');
    expect(b.getState('m').state).toBe('closed');
  });

  it('with a subscriber, reuses a closed state without asking Redis and hears at once when another opens it', async () => {
    const p = prefix();
    const make = async () => {
      const redis = await client();
      const subscriber = redis.duplicate();
      clients.push(subscriber);
      subscriber.on('error', () => {});
      await subscriber.connect();
      const commands: string[] = [];
      const counted: RedisScriptClient = {
        evalsha: (...args) => {
          commands.push('evalsha');
          return redis.evalsha(...args);
        },
        eval: (...args) => {
          commands.push('eval');
          return redis.eval(...args);
        },
      };
      const store = redisBreakerStore({ client: counted, prefix: p, subscriber });
      const policy = circuitBreaker({ key: 'model', breaker: () => new ConsecutiveBreaker(2), store });
      return { policy, commands, subscriber };
    };
    const [a, b] = [await make(), await make()];
    expect(() => redisBreakerStore({ client: a.subscriber, subscriber: {} as never })).toThrowError(
      /"subscriber"/,
    );
    const attributes = { model: 'm' };
    // Subscribed once the connection confirms it; from then on a closed breaker costs no round trip.
    await until(async () => {
      await b.policy.execute(() => 'ok', { attributes });
      const before = b.commands.length;
      await b.policy.execute(() => 'ok', { attributes });
      return b.commands.length === before;
    }, 2_000);
    const asked = b.commands.length;
    for (let i = 0; i < 20; i++) await b.policy.execute(() => 'ok', { attributes });
    expect(b.commands.length).toBe(asked);
    const failure = () => Promise.reject(new ResponseError({ status: 500, serverMessage: 'boom' }));
    for (let i = 0; i < 2; i++)
      await expect(a.policy.execute(failure, { attributes })).rejects.toMatchObject({ status: 500 });
    // B's next call asks Redis again (the message dropped its closed state) and is refused.
    let ran = 0;
    await until(async () => {
      const outcome = await b.policy.execute(() => ran++, { attributes }).catch((error: unknown) => error);
      return outcome instanceof CircuitOpenError;
    }, 2_000);
    expect(ran).toBeLessThanOrEqual(1);
    expect(b.commands.length).toBeGreaterThan(asked);
    // A dropped subscription: every call asks Redis again.
    const now = b.commands.length;
    b.subscriber.disconnect();
    await sleep(50);
    await b.policy.execute(() => 'ok', { attributes: { model: 'other' } });
    await b.policy.execute(() => 'ok', { attributes: { model: 'other' } });
    expect(b.commands.length).toBe(now + 2);
  });

  it('a call through a shared breaker (with a subscriber) and bulkhead costs one script before it and one after', async () => {
    const p = prefix();
    const redis = await client();
    const subscriber = redis.duplicate();
    clients.push(subscriber);
    subscriber.on('error', () => {});
    await subscriber.connect();
    const scripts: string[] = [];
    const counted: RedisScriptClient = {
      evalsha: (...args) => {
        scripts.push(String(args[0]));
        return redis.evalsha(...args);
      },
      eval: (...args) => {
        scripts.push(String(args[0]));
        return redis.eval(...args);
      },
    };
    const slots = redisBulkheadStore({ client: counted, prefix: p });
    const policy = wrap(
      circuitBreaker({ key: 'model', store: redisBreakerStore({ client: counted, prefix: p, subscriber }) }),
      bulkhead({ key: 'model', limit: 4, store: slots }),
    );
    const attributes = { model: 'm' };
    // Until the subscription is confirmed the breaker asks too.
    await until(async () => {
      const before = scripts.length;
      await policy.execute(() => 'ok', { attributes });
      await until(() => slots.held('m') === 0 && scripts.length >= before + 2, 1_000);
      return scripts.length === before + 2;
    }, 2_000);
    const before = scripts.length;
    for (let i = 0; i < 10; i++) {
      const during = await policy.execute(() => scripts.length, { attributes });
      // Before the operation ran: exactly one script (the slot).
      expect(during - (before + i * 2)).toBe(1);
    }
    await until(() => scripts.length === before + 20, 1_000);
    expect(scripts.length).toBe(before + 20);
  });

  it('shares one retry budget per key between two replicas', async () => {
    const p = prefix();
    const make = async () =>
      retry({
        maxAttempts: 5,
        initialDelayMs: 1,
        maxDelayMs: 1,
        key: 'model',
        budget: {
          ratio: 0,
          minRetries: 3,
          store: redisRetryBudgetStore({ client: await client(), prefix: p }),
        },
      });
    const replicas = [await make(), await make()];
    let attempts = 0;
    const failing = () => {
      attempts++;
      return Promise.reject(new ResponseError({ status: 503, serverMessage: 'busy' }));
    };
    for (const policy of [...replicas, ...replicas]) {
      const error = await policy.execute(failing, { attributes: { model: 'm' } }).catch((caught) => caught);
      // a refused retry fails with RetryBudgetExhaustedError, the last 503 as its cause
      const last = RetryBudgetExhaustedError.is(error) ? error.cause : error;
      expect(last).toMatchObject({ status: 503 });
    }
    // 4 calls, 3 retries in the whole fleet (each replica alone would have allowed 3).
    expect(attempts).toBe(4 + 3);
  });

  it('holds one token limit across two replicas to within one call of tokens', async () => {
    const p = prefix();
    const sim = await startOllamaSim({ models: [{ name: 'llama3.2', replyTokens: [20, 80] }] });
    const limit = 2_000;
    let used = 0;
    let biggest = 0;
    let refused = 0;
    const replicas = await Promise.all(
      [0, 1].map(async () => {
        const policy = tokenRateLimit({
          key: 'model',
          tokensPerWindow: limit,
          defaultReservation: 64,
          store: redisTokenStore({ client: await client(), prefix: p }),
        });
        policy.onSettled(({ used: tokens }) => {
          used += tokens;
          biggest = Math.max(biggest, tokens);
        });
        return new Ollama({ host: sim.url, policy });
      }),
    );
    try {
      for (let i = 0; i < 100; i++) {
        const ollama = replicas[i % 2] as Ollama;
        await ollama
          .chat({ model: 'llama3.2', messages: [{ role: 'user', content: `q${i}` }] })
          .catch((error: unknown) => {
            if (!(error instanceof TokenLimitError)) throw error;
            refused++;
          });
      }
    } finally {
      await Promise.all(replicas.map((ollama) => ollama.close()));
      await sim.close();
    }
    expect(refused).toBeGreaterThan(0);
    expect(used).toBeGreaterThan(limit - biggest);
    expect(used).toBeLessThanOrEqual(limit + biggest);
    // The shared window holds the corrected counts, not the reservations.
    const charged = (await clients[0]?.hvals(`${p}:tokens:llama3.2:charges`))?.map(Number) ?? [];
    expect(charged.reduce((sum, tokens) => sum + tokens, 0)).toBe(used);
  });

  it('goes on under local limits when Redis stops, with an event each way, and shares again after', async () => {
    const p = prefix();
    const store = redisBulkheadStore({
      client: await client(),
      prefix: p,
      leaseMs: 1_000,
      commandTimeoutMs: 200,
      retryUnavailableMs: 100,
    });
    const events: string[] = [];
    store.onUnavailable(({ store: name }) => events.push(`unavailable ${name}`));
    store.onAvailable(({ store: name }) => events.push(`available ${name}`));
    const policy = bulkhead({ limit: 2, queue: 100, store });
    let running = 0;
    let maxRunning = 0;
    const work = async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(20);
      running--;
      return 'ok';
    };
    await expect(policy.execute(work)).resolves.toBe('ok');
    await server.stop();
    const started = Date.now();
    const during = await Promise.all(Array.from({ length: 10 }, () => policy.execute(work)));
    expect(during).toEqual(Array(10).fill('ok'));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(maxRunning).toBe(2);
    expect(events).toEqual(['unavailable bulkhead']);
    expect(store.available).toBe(false);
    await server.restart();
    await until(async () => {
      await policy.execute(work);
      return store.available;
    }, 5_000);
    expect(events).toEqual(['unavailable bulkhead', 'available bulkhead']);
    const gate = deferred();
    const held = policy.execute(() => gate.promise);
    await until(async () => (await store.count('default')) === 1, 2_000);
    gate.resolve();
    await held;
    expect(store.held('default')).toBe(0);
  });

  it('runs the README example (examples/redis-fleet.ts) against this Redis', async () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: server.url };
    delete env.OLLAMA_HOST;
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=bulwark-source', 'examples/redis-fleet.ts'],
        {
          cwd: root,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let text = '';
      child.stdout.on('data', (chunk) => {
        text += chunk;
      });
      child.stderr.on('data', (chunk) => {
        text += chunk;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, output: text });
      });
    });
    expect(code, output).toBe(0);
    expect(output.trim().length).toBeGreaterThan(0);
    // The call went through the shared stores: its token charge is in Redis.
    const charges = await clients[0]?.hvals('bulwark:tokens:llama3.2:charges');
    expect(charges?.length).toBe(1);
    expect(Number(charges?.[0])).toBeGreaterThan(0);
  }, 60_000);

  it('fails closed when asked to, with a StoreUnavailableError', async () => {
    const dead = new Redis(1, '127.0.0.1', {
      enableOfflineQueue: false,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    dead.on('error', () => {});
    clients.push(dead);
    const policy = bulkhead({
      limit: 1,
      store: redisBulkheadStore({ client: dead, whenUnavailable: 'fail' }),
    });
    let ran = false;
    const error = await policy
      .execute(() => {
        ran = true;
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('ERR_BULWARK_STORE_UNAVAILABLE');
    expect(ran).toBe(false);
  });
});
