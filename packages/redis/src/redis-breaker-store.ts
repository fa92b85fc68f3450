import { randomUUID } from 'node:crypto';
import type { BreakerAdmission, BreakerProbe, BreakerStore } from '@bulwark/breaker';
import type { Event } from '@bulwark/core';
import { duration } from '@bulwark/core/internal';
import { RedisGuard, Script, SERVER_NOW_MS, UNAVAILABLE, validateStoreOptions } from './redis-guard.js';
import type {
  RedisStoreOptions,
  RedisSubscriberClient,
  StoreAvailableEvent,
  StoreUnavailableEvent,
} from './types.js';

export const DEFAULT_PROBE_LEASE_MS = 60_000;
/** The longest a closed state learned from Redis is reused without asking again. */
export const CLOSED_REUSE_MS = 1_000;

/** Options of `redisBreakerStore()`. */
export interface RedisBreakerStoreOptions extends RedisStoreOptions {
  /**
   * How long a probe slot stays taken if its process never reports back (it died mid-probe); then
   * another process may probe.
   * @default 60_000
   */
  probeLeaseMs?: number;
  /**
   * A second connection of the same Redis (`client.duplicate()`), used only to hear when a breaker
   * opens. With it, a breaker last seen closed is not asked again before each call (for up to
   * a second): the call costs no Redis round trip, and a breaker opened in any process is known
   * here as soon as Redis delivers its message. While this connection is down every call asks
   * Redis, as without it. The store subscribes on it; you close it.
   * @default none: every call asks Redis
   */
  subscriber?: RedisSubscriberClient;
}

/*
 * Per key, three Redis keys:
 *   …:tripped  exists from the moment the breaker opens until a probe succeeds;
 *   …:open     exists while it is open, and expires (PX, the server's clock) after halfOpenAfterMs;
 *   …:probes   the probe slots taken while half-open (member: probe id, score: expiry, server time).
 * closed = no `tripped`; open = `open` alive; half-open = `tripped` without `open`.
 */

// KEYS: tripped, open, probes. ARGV: halfOpenProbes, probeLeaseMs, id.
// Returns {0} closed, {1, ms left} open, {2, 1} half-open with a probe taken, {2, 0} without.
const ADMIT = new Script(`if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return {1, left} end
${SERVER_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[1]) then return {2, 0} end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]))
return {2, 1}`);

// KEYS: tripped, open, probes. ARGV: halfOpenAfterMs, channel, key. An open breaker stays open
// until its own time. Processes that keep a closed state hear of it on the channel.
const OPEN = new Script(`redis.call('SET', KEYS[1], '1')
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1', 'PX', math.max(1, tonumber(ARGV[1])))
end
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`);

const CLOSE = new Script(`return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])`);

const RELEASE_PROBE = new Script(`return redis.call('ZREM', KEYS[1], ARGV[1])`);

const CLOSED: BreakerAdmission = Object.freeze({ state: 'closed' });

/**
 * A breaker store on Redis: one breaker state per key for every process sharing the Redis. Each
 * process counts its own failures; the first whose counter trips opens the breaker for all.
 */
export class RedisBreakerStore implements BreakerStore {
  readonly probeLeaseMs: number;
  readonly #guard: RedisGuard;
  readonly #channel: string;
  /** Keys last seen closed, and when (only while the subscription is live). */
  readonly #closed = new Map<string, number>();
  /** Bumped by every message and every drop of the subscription: an older answer is not kept. */
  #epoch = 0;
  #listening = false;
  /** Times the subscription dropped: a subscription confirmed after a drop it did not see counts. */
  #drops = 0;
  /** Redis stopped answering; each process decides from its own breaker state (or fails). */
  readonly onUnavailable: Event<StoreUnavailableEvent>;
  /** Redis answers again; the shared state decides. */
  readonly onAvailable: Event<StoreAvailableEvent>;

  constructor(options: RedisBreakerStoreOptions) {
    validateStoreOptions('redisBreakerStore()', options, {
      probeLeaseMs: duration(1),
      subscriber: (value) =>
        typeof (value as Partial<RedisSubscriberClient>)?.subscribe === 'function' &&
        typeof (value as Partial<RedisSubscriberClient>).on === 'function'
          ? undefined
          : 'must be a Redis connection for subscribing (client.duplicate() of an ioredis Redis)',
    });
    this.#guard = new RedisGuard('breaker', options);
    this.probeLeaseMs = Math.round(options.probeLeaseMs ?? DEFAULT_PROBE_LEASE_MS);
    this.onUnavailable = this.#guard.onUnavailable;
    this.onAvailable = this.#guard.onAvailable;
    this.#channel = this.#guard.key('breaker', 'opened');
    if (options.subscriber) this.#listen(options.subscriber);
  }

  #listen(subscriber: RedisSubscriberClient): void {
    const forget = () => {
      this.#listening = false;
      this.#drops++;
      this.#epoch++;
      this.#closed.clear();
    };
    const subscribe = () => {
      const drops = this.#drops;
      subscriber.subscribe(this.#channel).then(() => {
        if (drops === this.#drops) this.#listening = true;
      }, forget);
    };
    subscriber.on('message', (channel: string, key: string) => {
      if (channel !== this.#channel) return;
      this.#epoch++;
      this.#closed.delete(key);
    });
    // Messages sent while the connection was down are lost: nothing learned before is kept.
    subscriber.on('close', forget);
    subscriber.on('ready', subscribe);
    if (subscriber.status === 'ready') subscribe();
  }

  /** Whether Redis answered the last operation. */
  get available(): boolean {
    return this.#guard.available;
  }

  #keys(key: string): string[] {
    return ['tripped', 'open', 'probes'].map((part) => this.#guard.key('breaker', key, part));
  }

  async admit(key: string, options: { halfOpenProbes: number }): Promise<BreakerAdmission | undefined> {
    if (this.#listening) {
      const seen = this.#closed.get(key);
      if (seen !== undefined && performance.now() - seen < CLOSED_REUSE_MS) return CLOSED;
    }
    const epoch = this.#epoch;
    const id = randomUUID();
    const result = await this.#guard.run(ADMIT, this.#keys(key), [
      options.halfOpenProbes,
      this.probeLeaseMs,
      id,
    ]);
    if (result === UNAVAILABLE) {
      const refusal = this.#guard.refusal();
      if (refusal) throw refusal;
      return undefined;
    }
    const [state, value] = result as [number, number | undefined];
    if (state === 0) {
      if (this.#listening && epoch === this.#epoch) this.#closed.set(key, performance.now());
      return CLOSED;
    }
    this.#closed.delete(key);
    if (state === 1) return { state: 'open', retryAfterMs: Number(value) };
    return { state: 'half-open', probe: value === 1 ? { id } : undefined };
  }

  async open(key: string, halfOpenAfterMs: number): Promise<void> {
    this.#epoch++;
    this.#closed.delete(key);
    await this.#guard.run(OPEN, this.#keys(key), [Math.round(halfOpenAfterMs), this.#channel, key]);
  }

  async close(key: string): Promise<void> {
    await this.#guard.run(CLOSE, this.#keys(key), []);
  }

  async releaseProbe(key: string, probe: BreakerProbe): Promise<void> {
    await this.#guard.run(RELEASE_PROBE, [this.#guard.key('breaker', key, 'probes')], [probe.id]);
  }
}

/**
 * A {@link BreakerStore} on Redis for `circuitBreaker({ store })`: a breaker opened in one process
 * fails calls fast in all of them, and half-open lets `halfOpenProbes` probes through fleet-wide.
 *
 * @example
 * const breaker = circuitBreaker({ key: 'model', store: redisBreakerStore({ client }) });
 */
export function redisBreakerStore(options: RedisBreakerStoreOptions): RedisBreakerStore {
  return new RedisBreakerStore(options);
}
