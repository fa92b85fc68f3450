import type { Context, KeyOption } from '@bulwark/core';

/** Options of `bulkhead()`. */
export interface BulkheadOptions {
  /** One limit per key: `'model'`, `'host'`, `'operation'` or a function of the context. @default one limit for every call */
  key?: KeyOption;
  /** Calls that run at once per key. Match it to the server (`OLLAMA_NUM_PARALLEL` × models). @default 4 */
  limit?: number;
  /** Calls that may wait for a slot per key; beyond it calls are rejected at once. @default 64 */
  queue?: number;
  /** The longest wait for a slot; then the call fails with a `TimeoutError` of phase `queue`. @default no limit but the deadline */
  queueMs?: number;
  /** Keys kept; the least recently used idle key is dropped beyond this. @default 1_000 */
  maxKeys?: number;
}

/** Counters of one key. */
export interface BulkheadStats {
  running: number;
  queued: number;
  /** Calls rejected because slots and queue were full, since the key was created. */
  rejected: number;
}

export interface BulkheadQueuedEvent {
  readonly key: string;
  /** Calls waiting, this one included. */
  readonly queued: number;
  readonly context: Context;
}

export interface BulkheadAcquiredEvent {
  readonly key: string;
  /** How long the call waited for its slot. */
  readonly waitedMs: number;
  readonly context: Context;
}

export interface BulkheadRejectedEvent {
  readonly key: string;
  readonly context: Context;
}

export interface BulkheadReleasedEvent {
  readonly key: string;
  readonly context: Context;
}
