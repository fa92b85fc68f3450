/**
 * The part of a Redis client the stores use: scripts. An ioredis `Redis` client fits; create it
 * with `enableOfflineQueue: false` so that a command fails at once while the connection is down
 * instead of running late, after the store has moved on.
 */
export interface RedisScriptClient {
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/**
 * A Redis connection in subscriber mode, as `redisBreakerStore({ subscriber })` uses it: an ioredis
 * `Redis` made with `client.duplicate()`.
 */
export interface RedisSubscriberClient {
  readonly status: string;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready' | 'close', listener: () => void): unknown;
}

/** What every Redis store does when Redis does not answer. */
export type WhenUnavailable = 'local' | 'fail';

/** Options every Redis store takes. */
export interface RedisStoreOptions {
  /** The Redis client (ioredis `Redis`), shared by as many stores as you like. */
  client: RedisScriptClient;
  /** The prefix of every key the store writes. @default 'bulwark' */
  prefix?: string;
  /** The longest wait for one Redis operation (one script); beyond it Redis counts as unavailable. @default 250 */
  commandTimeoutMs?: number;
  /**
   * When Redis fails or is slower than `commandTimeoutMs`: `'local'` goes on with this process's
   * own limits until Redis answers again, `'fail'` refuses calls with a `StoreUnavailableError`.
   * @default 'local'
   */
  whenUnavailable?: WhenUnavailable;
  /** While Redis is unavailable, how often one operation tries it again. @default 1_000 */
  retryUnavailableMs?: number;
}

/** Emitted by a store's `onUnavailable` when Redis stops answering. */
export interface StoreUnavailableEvent {
  /** `bulkhead`, `breaker`, `retry budget` or `token limit`. */
  readonly store: string;
  /** What the failing operation threw (a timeout, a closed connection, a Redis error). */
  readonly error: unknown;
}

/** Emitted by a store's `onAvailable` when Redis answers again and shared state is back. */
export interface StoreAvailableEvent {
  readonly store: string;
  /** How long the store ran without Redis. */
  readonly unavailableMs: number;
}
