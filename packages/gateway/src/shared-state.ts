import type { SharedStateStore } from '@bulwark/ollama';
import {
  redisBreakerStore,
  redisBulkheadStore,
  redisRetryBudgetStore,
  redisSharedState,
} from '@bulwark/redis';
import type { CreateOllamaOptions } from 'bulwark';

/** The pipeline's options with their state on Redis, the fleet's shared view, and how to let go of the connection. */
export interface SharedState {
  breaker: CreateOllamaOptions['breaker'];
  bulkhead: CreateOllamaOptions['bulkhead'];
  retry: CreateOllamaOptions['retry'];
  /** Where the upstreams' ejections are shared (`redisSharedState()`). */
  fleet: SharedStateStore;
  close(): Promise<void>;
}

/**
 * Connects to Redis at `url` and puts the bulkhead's slots, the breaker's state and the retry
 * budget there (each unless turned off or given its own store), so that every gateway sharing
 * the Redis keeps one set of limits, and gives the store of the fleet's host state, so that they
 * keep one view of the upstreams. While Redis does not answer, each instance goes on with its
 * own limits and its own view (the stores' `'local'` fallback). The URL may hold a password: it
 * is never shown.
 */
export async function shareStateOnRedis(
  url: string,
  options: Pick<CreateOllamaOptions, 'breaker' | 'bulkhead' | 'retry'>,
): Promise<SharedState> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    // A command fails at once while the connection is down, instead of running late.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 1_000,
    lazyConnect: true,
  });
  // ioredis reports connection errors as events; the stores report unavailability themselves.
  client.on('error', () => {});
  await client.connect().catch(() => {});
  const bulkhead =
    options.bulkhead === false || options.bulkhead?.store !== undefined
      ? options.bulkhead
      : { ...options.bulkhead, store: redisBulkheadStore({ client }) };
  const breaker =
    options.breaker === false || options.breaker?.store !== undefined
      ? options.breaker
      : { ...options.breaker, store: redisBreakerStore({ client }) };
  const budget = options.retry?.budget;
  const retry =
    budget === false || (typeof budget === 'object' && budget.store !== undefined)
      ? options.retry
      : {
          ...options.retry,
          budget: { ...(typeof budget === 'object' ? budget : {}), store: redisRetryBudgetStore({ client }) },
        };
  return {
    bulkhead,
    breaker,
    retry,
    fleet: redisSharedState({ client }),
    close: async () => {
      client.disconnect();
    },
  };
}
