export type { RedisBreakerStoreOptions } from './redis-breaker-store.js';
export {
  CLOSED_REUSE_MS,
  DEFAULT_PROBE_LEASE_MS,
  RedisBreakerStore,
  redisBreakerStore,
} from './redis-breaker-store.js';
export type { RedisBulkheadStoreOptions } from './redis-bulkhead-store.js';
export {
  DEFAULT_LEASE_MS,
  DEFAULT_POLL_MS,
  RedisBulkheadStore,
  redisBulkheadStore,
} from './redis-bulkhead-store.js';
export {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_PREFIX,
  DEFAULT_RETRY_UNAVAILABLE_MS,
} from './redis-guard.js';
export type { RedisRetryBudgetStoreOptions } from './redis-retry-budget-store.js';
export { RedisRetryBudgetStore, redisRetryBudgetStore } from './redis-retry-budget-store.js';
export type {
  RedisSharedHostState,
  RedisSharedLoadClaim,
  RedisSharedStateOptions,
} from './redis-shared-state.js';
export { RedisSharedState, redisSharedState } from './redis-shared-state.js';
export type { RedisTokenStoreOptions } from './redis-token-store.js';
export { RedisTokenStore, redisTokenStore } from './redis-token-store.js';
export { STORE_UNAVAILABLE, StoreUnavailableError } from './store-unavailable-error.js';
export type {
  RedisScriptClient,
  RedisStoreOptions,
  RedisSubscriberClient,
  StoreAvailableEvent,
  StoreUnavailableEvent,
  WhenUnavailable,
} from './types.js';
