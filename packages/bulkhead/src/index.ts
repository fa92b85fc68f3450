export { BulkheadPolicy, bulkhead, DEFAULT_LIMIT, DEFAULT_QUEUE } from './bulkhead-policy.js';
export type {
  BulkheadAcquiredEvent,
  BulkheadLease,
  BulkheadOptions,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStats,
  BulkheadStatus,
  BulkheadStore,
} from './types.js';
