import { ManualClock, ResponseError } from '@bulwark/core';
import { describe, expect, it } from 'vitest';
import { ModelStates } from '../model-states.js';
import type { OllamaTransport } from '../transport.js';
import { Fleet, type FleetHost } from './fleet.js';
import { DEFAULT_OUTLIER_DETECTION } from './outlier-detection.js';

const MODEL = 'llama3.2';

/** Two hosts of two slots each, the model warm on both; no request is sent. */
function twoHosts() {
  const clock = new ManualClock(0);
  const states = new ModelStates({ maxModels: 10, clock, serverKeepAliveMs: 3_600_000 });
  const fleet = new Fleet({
    hosts: ['http://slow:1', 'http://fast:1'].map((origin) => ({
      origin,
      transport: undefined as unknown as OllamaTransport,
      loads: undefined,
      weight: 1,
      capacity: 2,
    })),
    states,
    outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, consecutiveFailures: 1_000 },
    clock,
  });
  for (const host of fleet.hosts) states.warmFor(states.entry(host.origin, MODEL), undefined);
  const [slow, fast] = fleet.hosts as [FleetHost, FleetHost];
  /** One attempt on `host` with a free slot: first chunk after `firstChunkMs`, done after `attemptMs`. */
  const measure = (host: FleetHost, firstChunkMs: number, attemptMs: number) => {
    const lease = fleet.acquire(MODEL, new Set(), host);
    clock.advance(firstChunkMs);
    lease.firstChunk();
    clock.advance(attemptMs - firstChunkMs);
    lease.release(undefined, undefined);
  };
  return { fleet, slow, fast, measure };
}

describe('routing among warm hosts by expected time to first chunk', () => {
  it('prefers the fast host, a free slot anywhere over a queue, and the shorter queue when all are full', () => {
    const { fleet, slow, fast, measure } = twoHosts();
    for (let index = 0; index < 5; index++) {
      measure(slow, 100, 500);
      measure(fast, 5, 50);
    }
    expect(fast.latency.firstChunkMs).toBeCloseTo(5);
    expect(slow.latency.attemptMs).toBeCloseTo(500);
    const none = new Set<FleetHost>();
    // Both free: the fast one, whatever the draw.
    for (let draw = 0; draw < 10; draw++) expect(fleet.pick(MODEL, none)).toBe(fast);
    const held = [fleet.acquire(MODEL, none, fast), fleet.acquire(MODEL, none, fast)];
    // The fast host is full: a free slot on the slow one comes first.
    expect(fleet.pick(MODEL, none)).toBe(slow);
    held.push(fleet.acquire(MODEL, none, slow), fleet.acquire(MODEL, none, slow));
    // Both full: the fast host's queue (a slot every 25 ms) beats the slow one's (every 250 ms).
    for (let draw = 0; draw < 10; draw++) expect(fleet.pick(MODEL, none)).toBe(fast);
    for (const lease of held) lease.cancel();
    expect(fast.outstanding + slow.outstanding).toBe(0);
  });

  it('avoids a host whose recent attempts fail, and one that never answered yet counts as the fastest', () => {
    const { fleet, slow, fast, measure } = twoHosts();
    measure(fast, 5, 50);
    // Not measured yet: counted as fast as the fastest, so both are drawn.
    const drawn = new Set(Array.from({ length: 40 }, () => fleet.pick(MODEL, new Set())));
    expect(drawn).toEqual(new Set([slow, fast]));
    for (let index = 0; index < 3; index++) {
      const lease = fleet.acquire(MODEL, new Set(), slow);
      lease.release(new ResponseError({ status: 500 }), undefined);
    }
    expect(slow.latency.failureRate).toBeGreaterThan(0.4);
    for (let draw = 0; draw < 10; draw++) expect(fleet.pick(MODEL, new Set())).toBe(fast);
  });

  it('sends a hedge only to a host expected to answer within the hedge delay', () => {
    const { fleet, slow, fast, measure } = twoHosts();
    measure(slow, 100, 500);
    measure(fast, 5, 50);
    expect(fleet.pickWarm(MODEL, slow, 50)).toBe(fast);
    expect(fleet.pickWarm(MODEL, fast, 50)).toBeUndefined();
    expect(fleet.pickWarm(MODEL, fast, 150)).toBe(slow);
    const held = [0, 1, 2].map(() => fleet.acquire(MODEL, new Set(), fast));
    // Two attempts queued ahead on the fast host: 2 × 25 ms + 5 ms.
    expect(fleet.pickWarm(MODEL, slow, 50)).toBeUndefined();
    expect(fleet.pickWarm(MODEL, slow, 60)).toBe(fast);
    for (const lease of held) lease.cancel();
  });
});
