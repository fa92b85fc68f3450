import type { BulkheadStatus, KeyOption } from '@bulwark/core';

/** Options of `bulkhead()`. */
export interface BulkheadOptions {
  /** One limit per key: `'model'`, `'host'`, `'host+model'`, `'operation'` or a function of the context. @default one limit for every call */
  key?: KeyOption;
  /** Calls that run at once per key. Match it to the server (`OLLAMA_NUM_PARALLEL` × models). @default 4 */
  limit?: number;
  /** Calls that may wait for a slot per key; beyond it calls are rejected at once. @default 64 */
  queue?: number;
  /** The longest wait for a slot; then the call fails with a `TimeoutError` of phase `queue`. @default no limit but the deadline */
  queueMs?: number;
  /** Keys kept; the least recently used idle key is dropped beyond this. @default 1_000 */
  maxKeys?: number;
  /**
   * Where the slots live. With a store (`@bulwark/redis`'s `redisBulkheadStore()`), `limit` holds
   * across every process sharing it; the queue and `queue` stay local to this process.
   * @default slots counted in this process
   */
  store?: BulkheadStore;
}

/** A slot taken from a {@link BulkheadStore}. */
export interface BulkheadLease {
  /** Gives the slot back. Called exactly once, when the call settles; never throws. */
  release(): void;
}

/**
 * Where a bulkhead keeps its slots, so that one limit can hold across processes. The policy keeps
 * its queue in memory: its first waiter asks the store, and asks again every `pollMs` or as soon as
 * a slot of the key is released in this process.
 */
export interface BulkheadStore {
  /**
   * Takes a slot of `key` if fewer than `limit` are held, or resolves `undefined` when all are held.
   * Rejects to fail the call (a store that fails closed).
   */
  tryAcquire(key: string, limit: number): Promise<BulkheadLease | undefined>;
  /** How long a waiter waits before asking the store again. @default 50 */
  readonly pollMs?: number;
}

/** The payloads of this policy's events and its state, defined in `@bulwark/core` so telemetry imports types only. */
export type {
  BulkheadAcquiredEvent,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStatus,
} from '@bulwark/core';

/** @deprecated Use `BulkheadStatus`. */
export type BulkheadStats = BulkheadStatus;
