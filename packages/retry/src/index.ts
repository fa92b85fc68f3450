export { parseRetryAfter } from '@bulwark/core';
export {
  DEFAULT_BUDGET,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_DELAY_MS,
  isRetryable,
} from './retry-options.js';
export { RetryPolicy, retry } from './retry-policy.js';
export type {
  RetryBackoffContext,
  RetryBudgetExhaustedEvent,
  RetryBudgetLimits,
  RetryBudgetOptions,
  RetryBudgetStatus,
  RetryBudgetStore,
  RetryEvent,
  RetryGiveUpEvent,
  RetryOptions,
} from './types.js';
