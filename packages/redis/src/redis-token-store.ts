import { randomUUID } from 'node:crypto';
import type { Event } from '@bulwark/core';
import { MemoryTokenStore, type TokenReserveResult, type TokenStore } from '@bulwark/rate-limit';
import { RedisGuard, Script, SERVER_NOW_MS, UNAVAILABLE, validateStoreOptions } from './redis-guard.js';
import type { RedisStoreOptions, StoreAvailableEvent, StoreUnavailableEvent } from './types.js';

/** Options of `redisTokenStore()`. */
export type RedisTokenStoreOptions = RedisStoreOptions;

/*
 * Per key, a sorted set of charge ids scored by their time (server clock) and a hash of each
 * charge's tokens. Reserving drops the charges that left the window, sums the rest and adds the new
 * one only if it fits; settling rewrites one charge's tokens if it is still in the window.
 */

// KEYS: times, tokens. ARGV: tokens, tokensPerWindow, windowMs, id.
// Returns {1} reserved, or {0, ms until enough tokens leave the window}.
const RESERVE = new Script(`${SERVER_NOW_MS}
local windowMs = tonumber(ARGV[3])
local oldest = now - windowMs
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', oldest)
for i = 1, #gone, 500 do
  redis.call('HDEL', KEYS[2], unpack(gone, i, math.min(i + 499, #gone)))
end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', oldest) end
local used = 0
local values = redis.call('HVALS', KEYS[2])
for i = 1, #values do used = used + tonumber(values[i]) end
local tokens = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if used + tokens > limit then
  local charges = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 1, #charges, 2 do
    used = used - tonumber(redis.call('HGET', KEYS[2], charges[i]) or '0')
    if used + tokens <= limit then return {0, math.max(1, tonumber(charges[i + 1]) + windowMs - now)} end
  end
  return {0, windowMs}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], tokens)
redis.call('PEXPIRE', KEYS[1], windowMs + 1000)
redis.call('PEXPIRE', KEYS[2], windowMs + 1000)
return {1}`);

// KEYS: times, tokens. ARGV: id, tokens.
const SETTLE = new Script(`if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1`);

/** A token store on Redis: one token window per key for every process sharing the Redis. */
export class RedisTokenStore implements TokenStore {
  readonly #guard: RedisGuard;
  readonly #local = new MemoryTokenStore();
  /** Redis stopped answering; each process keeps its own window (or refuses, when failing closed). */
  readonly onUnavailable: Event<StoreUnavailableEvent>;
  /** Redis answers again; the shared window decides. */
  readonly onAvailable: Event<StoreAvailableEvent>;

  constructor(options: RedisTokenStoreOptions) {
    validateStoreOptions('redisTokenStore()', options);
    this.#guard = new RedisGuard('token limit', options);
    this.onUnavailable = this.#guard.onUnavailable;
    this.onAvailable = this.#guard.onAvailable;
  }

  /** Whether Redis answered the last operation. */
  get available(): boolean {
    return this.#guard.available;
  }

  async reserve(
    key: string,
    tokens: number,
    limit: { readonly tokensPerWindow: number; readonly windowMs: number },
  ): Promise<TokenReserveResult> {
    const keys = [this.#guard.key('tokens', key, 'times'), this.#guard.key('tokens', key, 'charges')];
    const id = randomUUID();
    const result = await this.#guard.run(RESERVE, keys, [
      Math.ceil(tokens),
      limit.tokensPerWindow,
      Math.ceil(limit.windowMs),
      id,
    ]);
    if (result === UNAVAILABLE) {
      const refusal = this.#guard.refusal();
      if (refusal) throw refusal;
      return this.#local.reserveNow(key, tokens, limit);
    }
    const [reserved, retryAfterMs] = result as [number, number | undefined];
    if (reserved !== 1) return { retryAfterMs: Number(retryAfterMs) };
    let settled = false;
    return {
      reservation: {
        settle: (actual) => {
          if (settled) return;
          settled = true;
          // A correction Redis cannot hear leaves the reservation charged until it leaves the window.
          void this.#guard.run(SETTLE, keys, [id, Math.max(0, Math.ceil(actual))]);
        },
      },
    };
  }
}

/**
 * A {@link TokenStore} on Redis for `tokenRateLimit({ store })`: the tokens per window of a key hold
 * across every process sharing the Redis.
 *
 * @example
 * const limit = tokenRateLimit({ key: 'model', tokensPerWindow: 200_000, store: redisTokenStore({ client }) });
 */
export function redisTokenStore(options: RedisTokenStoreOptions): RedisTokenStore {
  return new RedisTokenStore(options);
}
