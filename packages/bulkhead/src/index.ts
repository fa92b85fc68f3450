export { BulkheadPolicy, bulkhead, DEFAULT_LIMIT, DEFAULT_QUEUE } from './bulkhead-policy.js';
export type {
  BulkheadAcquiredEvent,
  BulkheadOptions,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStats,
} from './types.js';
