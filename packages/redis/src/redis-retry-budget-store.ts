import type { Event } from '@bulwark/core';
import type { RetryBudgetLimits, RetryBudgetStore } from '@bulwark/retry';
import { RedisGuard, Script, SERVER_NOW_MS, UNAVAILABLE, validateStoreOptions } from './redis-guard.js';
import type { RedisStoreOptions, StoreAvailableEvent, StoreUnavailableEvent } from './types.js';

/** Options of `redisRetryBudgetStore()`. */
export type RedisRetryBudgetStoreOptions = RedisStoreOptions;

/*
 * One hash per key holds the window in ten buckets, as the in-process budget does: fields `c<n>`
 * (calls) and `r<n>` (retries) for bucket n = floor(server time / (windowMs / 10)). Each script drops
 * the buckets that left the window.
 */
const WINDOW = `${SERVER_NOW_MS}
local bucketMs = tonumber(ARGV[1]) / 10
local slot = math.floor(now / bucketMs)
local calls, retries = 0, 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local name = fields[i]
  local n = tonumber(string.sub(name, 2))
  if n <= slot - 10 then
    redis.call('HDEL', KEYS[1], name)
  elseif string.sub(name, 1, 1) == 'c' then
    calls = calls + tonumber(fields[i + 1])
  else
    retries = retries + tonumber(fields[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 2))`;

// ARGV: windowMs.
const RECORD_CALL = new Script(`${WINDOW}
redis.call('HINCRBY', KEYS[1], 'c' .. slot, 1)
return 1`);

// ARGV: windowMs, ratio, minRetries. 1 when a retry was taken, 0 when the budget is spent.
const TRY_RETRY = new Script(`${WINDOW}
if retries + 1 > tonumber(ARGV[3]) + tonumber(ARGV[2]) * calls then return 0 end
redis.call('HINCRBY', KEYS[1], 'r' .. slot, 1)
return 1`);

/** A retry budget store on Redis: one budget per key for every process sharing the Redis. */
export class RedisRetryBudgetStore implements RetryBudgetStore {
  readonly #guard: RedisGuard;
  /** Redis stopped answering; each process's own window decides (or no retry, when failing closed). */
  readonly onUnavailable: Event<StoreUnavailableEvent>;
  /** Redis answers again; the shared budget decides. */
  readonly onAvailable: Event<StoreAvailableEvent>;

  constructor(options: RedisRetryBudgetStoreOptions) {
    validateStoreOptions('redisRetryBudgetStore()', options);
    this.#guard = new RedisGuard('retry budget', options);
    this.onUnavailable = this.#guard.onUnavailable;
    this.onAvailable = this.#guard.onAvailable;
  }

  /** Whether Redis answered the last operation. */
  get available(): boolean {
    return this.#guard.available;
  }

  recordCall(key: string, budget: RetryBudgetLimits): void {
    void this.#guard.run(RECORD_CALL, [this.#guard.key('budget', key)], [budget.windowMs]);
  }

  async tryRetry(key: string, budget: RetryBudgetLimits): Promise<boolean | undefined> {
    const result = await this.#guard.run(
      TRY_RETRY,
      [this.#guard.key('budget', key)],
      [budget.windowMs, budget.ratio, budget.minRetries],
    );
    if (result === UNAVAILABLE) return this.#guard.whenUnavailable === 'fail' ? false : undefined;
    return Number(result) === 1;
  }
}

/**
 * A {@link RetryBudgetStore} on Redis for `retry({ budget: { store } })`: one retry budget per key
 * across every process sharing the Redis.
 *
 * @example
 * const policy = retry({ key: 'model', budget: { ratio: 0.2, store: redisRetryBudgetStore({ client }) } });
 */
export function redisRetryBudgetStore(options: RedisRetryBudgetStoreOptions): RedisRetryBudgetStore {
  return new RedisRetryBudgetStore(options);
}
