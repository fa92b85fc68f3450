// Four service replicas (child processes) share one Redis and one simulator: the bulkhead and the
// breakers hold for the fleet, a killed replica's slots come back, and a Redis outage costs no call.
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, redisServerAvailable, startRedisServer } from '../support/redis-server.js';
import { type Replica, startReplica } from './fleet.js';

const available = redisServerAvailable();
const LEASE_MS = 1_000;
const HALF_OPEN_AFTER_MS = 500;
let server: RedisServer;
let sim: OllamaSim;
let admin: Redis;
let replicas: Replica[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const count = (outcomes: string[], outcome: string) => outcomes.filter((seen) => seen === outcome).length;

describe.skipIf(!available)('a fleet of replicas sharing Redis', { timeout: 40_000 }, () => {
  beforeAll(async () => {
    server = await startRedisServer();
    sim = await startOllamaSim({
      models: [
        { name: 'llama3.2', tokenDelayMs: 4, replyTokens: 5 },
        { name: 'long', tokenDelayMs: 5, replyTokens: 1_000_000 },
        { name: 'broken', tokenDelayMs: 300, replyTokens: 5 },
      ],
      numParallel: 16,
      requestLogLimit: 10_000,
    });
    admin = new Redis(server.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50 });
    admin.on('error', () => {});
    await admin.connect();
    replicas = await Promise.all(
      ['a', 'b', 'c', 'd'].map((name) =>
        startReplica({
          name,
          redisPort: server.port,
          simUrl: sim.url,
          limit: 2,
          leaseMs: LEASE_MS,
          halfOpenAfterMs: HALF_OPEN_AFTER_MS,
        }),
      ),
    );
  }, 90_000);

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    admin?.disconnect();
    await sim?.close();
    await server?.close();
  });

  beforeEach(async () => {
    await admin.flushall();
    sim.resetStats();
    sim.clearFaults();
  });

  it('4 replicas × 50 calls with a bulkhead of 2: never more than 2 generations at once, all succeed', async () => {
    const outcomes = (await Promise.all(replicas.map((replica) => replica.run(50, 'llama3.2')))).flat();
    expect(count(outcomes, 'ok')).toBe(200);
    const events = replicas.flatMap((replica) => replica.events).join(', ');
    expect(sim.stats().maxGenerating, `store events: ${events}`).toBeLessThanOrEqual(2);
    expect(sim.stats().maxGenerating).toBeGreaterThan(0);
  });

  it('a breaker opened in one replica fails the others fast; one probe fleet-wide closes it', async () => {
    const [a, ...others] = replicas as [Replica, ...Replica[]];
    // Every replica has seen the breaker closed (and keeps that, listening for it to open).
    expect((await Promise.all(replicas.map((replica) => replica.run(1, 'broken')))).flat()).toEqual(
      Array(4).fill('ok'),
    );
    sim.setFaults([{ model: 'broken', status: 500 }]);
    // One after another: calls that wait on one failed model load count as one failure (the load's),
    // so three concurrent calls would be one failure, not three.
    for (let call = 0; call < 3; call++)
      expect(await a.run(1, 'broken')).toEqual(['ERR_BULWARK_HTTP_STATUS']);
    const before = sim.requests.length;
    const refused = (await Promise.all(others.map((replica) => replica.run(2, 'broken')))).flat();
    expect(refused).toEqual(Array(6).fill('ERR_BULWARK_CIRCUIT_OPEN'));
    expect(sim.requests.length).toBe(before);
    // Other models are not behind that breaker.
    expect((await Promise.all(others.map((replica) => replica.run(1, 'llama3.2')))).flat()).toEqual(
      Array(3).fill('ok'),
    );
    sim.clearFaults();
    await sleep(HALF_OPEN_AFTER_MS + 100);
    const probing = sim.requests.length;
    const halfOpen = (await Promise.all(replicas.map((replica) => replica.run(2, 'broken')))).flat();
    expect(count(halfOpen, 'ok')).toBe(1);
    expect(count(halfOpen, 'ERR_BULWARK_CIRCUIT_OPEN')).toBe(7);
    // The probe's own chat (after the model's load-only request, which the breaker does not count).
    const chats = sim.requests.slice(probing).filter((request) => request.route === '/api/chat');
    expect(chats.filter((request) => request.model === 'broken')).toHaveLength(1);
    const closed = (await Promise.all(replicas.map((replica) => replica.run(1, 'broken')))).flat();
    expect(closed).toEqual(Array(4).fill('ok'));
  });

  it('redis-server stopped mid-run: calls go on under local limits, then shared limits resume', async () => {
    const running = Promise.all(replicas.map((replica) => replica.run(50, 'llama3.2')));
    await sleep(300);
    await server.stop();
    const started = Date.now();
    const outcomes = (await running).flat();
    expect(count(outcomes, 'ok')).toBe(200);
    expect(Date.now() - started).toBeLessThan(15_000);
    for (const replica of replicas) expect(replica.events).toContain('unavailable bulkhead');
    await server.restart();
    // Each replica tries Redis again at least every 200 ms (retryUnavailableMs) and returns to it.
    const deadline = Date.now() + 10_000;
    while (!replicas.every((replica) => replica.events.includes('available bulkhead'))) {
      if (Date.now() > deadline)
        throw new Error(`not back on Redis: ${replicas.map((r) => r.events.join(','))}`);
      await Promise.all(replicas.map((replica) => replica.run(1, 'llama3.2')));
      await sleep(50);
    }
    for (const replica of replicas) {
      expect(replica.events.indexOf('available bulkhead')).toBeGreaterThan(
        replica.events.indexOf('unavailable bulkhead'),
      );
    }
    sim.resetStats();
    const after = (await Promise.all(replicas.map((replica) => replica.run(20, 'llama3.2')))).flat();
    expect(count(after, 'ok')).toBe(80);
    const events = replicas.flatMap((replica) => replica.events).join(', ');
    expect(sim.stats().maxGenerating, `store events: ${events}`).toBeLessThanOrEqual(2);
  });

  it('a replica killed with SIGKILL while holding slots: they come back within the lease', async () => {
    const [victim, next, ...others] = replicas as [Replica, Replica, ...Replica[]];
    await victim.hold(2, 'long');
    expect(Number(await admin.zcard('fleet:bulkhead:default'))).toBe(2);
    const killed = Date.now();
    victim.child.kill('SIGKILL');
    expect(await next.run(1, 'llama3.2')).toEqual(['ok']);
    const waitedMs = Date.now() - killed;
    // Blocked while the leases lived (renewed every third of the lease), free within the lease.
    expect(waitedMs).toBeGreaterThan(LEASE_MS / 3);
    expect(waitedMs).toBeLessThan(LEASE_MS + 1_500);
    const rest = (await Promise.all(others.map((replica) => replica.run(10, 'llama3.2')))).flat();
    expect(count(rest, 'ok')).toBe(20);
  });
});
