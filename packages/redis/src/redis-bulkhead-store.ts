import { randomUUID } from 'node:crypto';
import type { BulkheadLease, BulkheadStore } from '@bulwark/bulkhead';
import type { Event } from '@bulwark/core';
import { duration } from '@bulwark/core/internal';
import { RedisGuard, Script, SERVER_NOW_MS, UNAVAILABLE, validateStoreOptions } from './redis-guard.js';
import type { RedisStoreOptions, StoreAvailableEvent, StoreUnavailableEvent } from './types.js';

export const DEFAULT_LEASE_MS = 10_000;
export const DEFAULT_POLL_MS = 50;

/** Options of `redisBulkheadStore()`. */
export interface RedisBulkheadStoreOptions extends RedisStoreOptions {
  /**
   * How long a slot stays taken without news from its holder. A held slot is renewed every third of
   * this, so a long stream keeps it; a process that dies gives its slots back within this time.
   * @default 10_000
   */
  leaseMs?: number;
  /** How long a waiter waits before asking Redis again for a slot. @default 50 */
  pollMs?: number;
}

// KEYS[1] the key's lease set (member: lease id, score: expiry in server time). ARGV: limit, leaseMs, id.
const ACQUIRE = new Script(`${SERVER_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1`);

// ARGV: leaseMs, id. A lease that expired meanwhile is not taken back (its slot may have gone to another).
const RENEW = new Script(`${SERVER_NOW_MS}
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) end
return 1`);

const RELEASE = new Script(`return redis.call('ZREM', KEYS[1], ARGV[1])`);

// How many leases of a key are alive, in server time.
const COUNT = new Script(`${SERVER_NOW_MS}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`);

/**
 * A bulkhead store on Redis: one limit per key for every process that shares the Redis, with slots
 * held as leases that expire on the Redis server's clock.
 */
export class RedisBulkheadStore implements BulkheadStore {
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly #guard: RedisGuard;
  /** Slots this process holds per key, in Redis or not: the local limit while Redis is away. */
  readonly #held = new Map<string, number>();
  /** Redis stopped answering; calls go on under local limits (or fail, with `whenUnavailable: 'fail'`). */
  readonly onUnavailable: Event<StoreUnavailableEvent>;
  /** Redis answers again; new slots are taken in Redis. */
  readonly onAvailable: Event<StoreAvailableEvent>;

  constructor(options: RedisBulkheadStoreOptions) {
    validateStoreOptions('redisBulkheadStore()', options, { leaseMs: duration(30), pollMs: duration(1) });
    this.#guard = new RedisGuard('bulkhead', options);
    this.leaseMs = Math.round(options.leaseMs ?? DEFAULT_LEASE_MS);
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.onUnavailable = this.#guard.onUnavailable;
    this.onAvailable = this.#guard.onAvailable;
  }

  /** Whether Redis answered the last operation. */
  get available(): boolean {
    return this.#guard.available;
  }

  /** Slots of `key` this process holds. */
  held(key: string): number {
    return this.#held.get(key) ?? 0;
  }

  /** Live leases of `key` across every process, or `undefined` when Redis does not answer. */
  async count(key: string): Promise<number | undefined> {
    const result = await this.#guard.run(COUNT, [this.#guard.key('bulkhead', key)], []);
    return result === UNAVAILABLE ? undefined : Number(result);
  }

  async tryAcquire(key: string, limit: number): Promise<BulkheadLease | undefined> {
    const redisKey = this.#guard.key('bulkhead', key);
    const id = randomUUID();
    const result = await this.#guard.run(ACQUIRE, [redisKey], [limit, this.leaseMs, id]);
    if (result === UNAVAILABLE) {
      const refusal = this.#guard.refusal();
      if (refusal) throw refusal;
      if (this.held(key) >= limit) return undefined;
      return this.#lease(key, undefined, undefined);
    }
    if (Number(result) !== 1) return undefined;
    return this.#lease(key, redisKey, id);
  }

  #lease(key: string, redisKey: string | undefined, id: string | undefined): BulkheadLease {
    this.#held.set(key, this.held(key) + 1);
    let renewal: NodeJS.Timeout | undefined;
    if (redisKey !== undefined && id !== undefined) {
      renewal = setInterval(() => {
        void this.#guard.run(RENEW, [redisKey], [this.leaseMs, id]);
      }, this.leaseMs / 3);
      renewal.unref();
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        const held = this.held(key) - 1;
        if (held > 0) this.#held.set(key, held);
        else this.#held.delete(key);
        // When Redis cannot hear it, the lease expires on its own within leaseMs.
        if (redisKey !== undefined && id !== undefined) void this.#guard.run(RELEASE, [redisKey], [id]);
      },
    };
  }
}

/**
 * A {@link BulkheadStore} on Redis for `bulkhead({ store })`: `limit` holds across every process
 * sharing the Redis. Slots are leases measured by the Redis server's clock and renewed while held.
 *
 * @example
 * const store = redisBulkheadStore({ client: new Redis(url, { enableOfflineQueue: false }) });
 * const policy = bulkhead({ key: 'model', limit: 4, store });
 */
export function redisBulkheadStore(options: RedisBulkheadStoreOptions): RedisBulkheadStore {
  return new RedisBulkheadStore(options);
}
