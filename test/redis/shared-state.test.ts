// Two service replicas (child processes) with a fleet of three simulators share model and host state
// through Redis: a host one replica ejected is avoided by the other without failures of its own, a
// model one replica loaded is warm for the other, and one load serves both.
import type { SharedStateStore } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import type { ObservableStore } from '@bulwark/otel';
import type {
  RedisBreakerStore,
  RedisBulkheadStore,
  RedisRetryBudgetStore,
  RedisSharedState,
  RedisTokenStore,
} from '@bulwark/redis';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { type RedisServer, redisServerAvailable, startRedisServer } from '../support/redis-server.js';
import { type Replica, startReplica } from './fleet.js';

const available = redisServerAvailable();
let server: RedisServer;
let sims: OllamaSim[] = [];
let a: Replica;
let b: Replica;

/** Load-only requests (Ollama's empty prompt) every simulator received. */
const loadRequests = () =>
  sims.flatMap((sim) =>
    sim.requests.filter(
      (request) => request.route === '/api/generate' && (request.body as { prompt?: string })?.prompt === '',
    ),
  );

describe.skipIf(!available)('replicas sharing model and host state on Redis', { timeout: 40_000 }, () => {
  beforeAll(async () => {
    server = await startRedisServer();
    sims = await Promise.all(
      [0, 1, 2].map(() =>
        startOllamaSim({
          models: [
            { name: 'llama3.2', tokenDelayMs: 2, replyTokens: 5, loadMs: 300 },
            { name: 'qwen3', tokenDelayMs: 2, replyTokens: 5, loadMs: 800 },
            { name: 'phi4', tokenDelayMs: 2, replyTokens: 5, loadMs: 100 },
          ],
          numParallel: 4,
        }),
      ),
    );
    const config = {
      redisPort: server.port,
      simUrl: (sims[0] as OllamaSim).url,
      hosts: sims.map((sim) => sim.url),
      sharedState: true,
      policy: false,
      consecutiveFailures: 1,
      limit: 1,
      leaseMs: 1_000,
      halfOpenAfterMs: 500,
    };
    [a, b] = await Promise.all([
      startReplica({ ...config, name: 'a' }),
      startReplica({ ...config, name: 'b' }),
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all(sims.map((sim) => sim.close()));
    await server?.close();
  });

  it('fits the store seam of @bulwark/ollama', () => {
    expectTypeOf<RedisSharedState>().toMatchTypeOf<SharedStateStore>();
  });

  it('every Redis store reports its fallback and return to instrumentStores() of @bulwark/otel', () => {
    expectTypeOf<RedisBulkheadStore>().toMatchTypeOf<ObservableStore>();
    expectTypeOf<RedisBreakerStore>().toMatchTypeOf<ObservableStore>();
    expectTypeOf<RedisRetryBudgetStore>().toMatchTypeOf<ObservableStore>();
    expectTypeOf<RedisTokenStore>().toMatchTypeOf<ObservableStore>();
    expectTypeOf<RedisSharedState>().toMatchTypeOf<ObservableStore>();
  });

  // First, while neither replica knows a model anywhere: every host ties, so routing would pick the
  // first host for both.
  it('a host ejected by the failures one replica saw is avoided by the other, which sees none', async () => {
    const [first] = sims as [OllamaSim];
    first.setFaults([{ status: 500 }]);
    expect(await a.run(1, 'phi4')).toEqual(['ERR_BULWARK_HTTP_STATUS']);
    expect((await a.state()).fleet.hosts[0]?.state).toBe('ejected');
    first.clearFaults();
    const before = first.requests.length;
    expect(await b.run(3, 'phi4')).toEqual(['ok', 'ok', 'ok']);
    expect(first.requests.length).toBe(before);
    const seen = (await b.state()).fleet.hosts[0];
    expect(seen?.state).toBe('ejected');
    expect(seen?.consecutiveFailures).toBe(0);
    expect(seen?.ejectedUntil).toBeGreaterThan(Date.now() + 20_000);
  });

  it('a model replica A loaded is routed as warm by replica B: no second load', async () => {
    const loadsBefore = loadRequests().length;
    expect(await a.run(1, 'llama3.2')).toEqual(['ok']);
    const loads = loadRequests().slice(loadsBefore);
    expect(loads).toHaveLength(1);
    const loadedOn = sims.find((sim) => sim.requests.includes(loads[0] as never)) as OllamaSim;
    const chatsBefore = sims.map(
      (sim) => sim.requests.filter((request) => request.route === '/api/chat').length,
    );
    const bLoads = (await b.state()).loadStarts;
    expect(await b.run(3, 'llama3.2')).toEqual(['ok', 'ok', 'ok']);
    expect(loadRequests().length).toBe(loadsBefore + 1);
    const state = await b.state();
    expect(state.loadStarts).toBe(bLoads);
    // Every chat of B went to the host where A loaded the model.
    const chats = sims.map(
      (sim, index) =>
        sim.requests.filter((request) => request.route === '/api/chat').length - (chatsBefore[index] ?? 0),
    );
    expect(chats[sims.indexOf(loadedOn)]).toBe(3);
    expect(chats.reduce((sum, count) => sum + count, 0)).toBe(3);
    const known = state.models.find((model) => model.model === 'llama3.2');
    expect(known?.state).toBe('warm');
    expect(known?.host).toBe(loadedOn.url);
  });

  it('both replicas calling a cold model at once: one load between them, every call succeeds', async () => {
    const loadsBefore = loadRequests().length;
    const starts = (await a.state()).loadStarts + (await b.state()).loadStarts;
    const outcomes = (await Promise.all([a.run(2, 'qwen3'), b.run(2, 'qwen3')])).flat();
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(loadRequests().length - loadsBefore).toBe(1);
    expect((await a.state()).loadStarts + (await b.state()).loadStarts - starts).toBe(1);
  });
});
