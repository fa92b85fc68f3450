import type { Clock, Context, KeyOption, NotRetriedReason } from '@bulwark/core';
import type { IBackoffFactory } from 'cockatiel';

/**
 * What a backoff receives when a retry is about to wait. The shape matches cockatiel's
 * `IRetryBackoffContext` (`attempt`, `signal`, `result`), so a cockatiel `DelegateBackoff` written
 * for cockatiel's retry works unchanged.
 */
export interface RetryBackoffContext {
  /** The 0-based number of the attempt about to run: 1 before the first retry (cockatiel's count). */
  readonly attempt: number;
  /** The call's signal. */
  readonly signal: AbortSignal;
  /** The failure being retried, in cockatiel's shape. */
  readonly result: { readonly error: unknown };
  /** The error being retried. */
  readonly error: unknown;
  /** The context of the attempt that failed. */
  readonly context: Context;
}

/** Options of the retry budget, which caps retries at a share of recent calls. */
export interface RetryBudgetOptions {
  /**
   * Retries allowed as a share of the calls in the window, from 0 to 1.
   * @default 0.2
   */
  ratio?: number;
  /**
   * The sliding window, measured in tenths of its length.
   * @default 10_000
   */
  windowMs?: number;
  /**
   * Retries allowed per window on top of the ratio, so light traffic can still retry.
   * @default 10
   */
  minRetries?: number;
  /**
   * Where the budget's window lives. With a store (`@bulwark/redis`'s `redisRetryBudgetStore()`),
   * every process sharing it draws on one budget per key.
   * @default a window kept in this process
   */
  store?: RetryBudgetStore;
}

/** The numbers of a retry budget, as a {@link RetryBudgetStore} receives them. */
export type RetryBudgetLimits = Readonly<Required<Omit<RetryBudgetOptions, 'store'>>>;

/**
 * Where a retry budget keeps its window, so that one budget per key holds across processes. The
 * policy still counts in its own window too, which decides whenever the store cannot answer.
 */
export interface RetryBudgetStore {
  /** Counts one call of `key`. Never throws: a count that cannot be stored is dropped. */
  recordCall(key: string, budget: RetryBudgetLimits): void;
  /**
   * Takes one retry of `key` if the budget allows it: `true` taken, `false` spent. Resolves
   * `undefined` when the store cannot answer: the policy's own window decides.
   */
  tryRetry(key: string, budget: RetryBudgetLimits): Promise<boolean | undefined>;
}

/** Options of `retry()`. */
export interface RetryOptions {
  /**
   * Attempts in total, the first one included: `3` means one call and up to two retries.
   * @default 3
   */
  maxAttempts?: number;
  /**
   * How long to wait before each retry: any cockatiel backoff (`ExponentialBackoff`,
   * `ConstantBackoff`, `IterableBackoff`, `DelegateBackoff`) or your own `IBackoffFactory`. Each
   * call starts from `backoff.next(context)`. Waits are capped by `maxDelayMs`.
   * @default new ExponentialBackoff({ generator: decorrelatedJitterGenerator, initialDelay: initialDelayMs, maxDelay: maxDelayMs })
   */
  backoff?: IBackoffFactory<RetryBackoffContext>;
  /**
   * The scale of the default backoff's first wait (which falls between 0 and about 1.4 times this).
   * Not allowed together with `backoff`; must not exceed `maxDelayMs`.
   * @default 250, or `maxDelayMs` when that is lower
   */
  initialDelayMs?: number;
  /**
   * The longest wait before a retry, from the backoff or from the server's `Retry-After`.
   * @default 10_000
   */
  maxDelayMs?: number;
  /**
   * Whether an error may be retried. A committed attempt and a caller's cancel are never retried,
   * whatever this says.
   * @default (error) => BulwarkError.is(error) && error.retryable
   */
  retryOn?: (error: unknown, context: Context) => boolean;
  /**
   * The retry budget shared by every call through this policy (or per `key`): retries stop while
   * they would exceed `ratio` of the calls in the window plus `minRetries`. `false` turns it off;
   * `true` or an object turns it on with defaults for what is left out.
   * @default { ratio: 0.2, windowMs: 10_000, minRetries: 10 }
   */
  budget?: boolean | RetryBudgetOptions;
  /**
   * Keeps one retry budget per key (`'model'`, `'host'`, `'operation'`, or a function of the
   * context) instead of one for the whole policy.
   * @default undefined (one budget)
   */
  key?: KeyOption;
  /**
   * How many keyed budgets to keep; the least recently used is dropped beyond this.
   * @default 1_000
   */
  maxKeys?: number;
  /**
   * The clock of the budget's window (state shared across calls). Waits between attempts use the
   * call's clock (`context.clock`).
   * @default realClock
   */
  clock?: Clock;
}

/** Emitted by `onRetry` before each wait. */
export interface RetryEvent {
  /** The 0-based number of the attempt that failed. */
  readonly attempt: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  /** The error of the attempt that failed. */
  readonly error: unknown;
  /** The context the policy received (the call's). */
  readonly context: Context;
}

/** Emitted by `onGiveUp` when the call fails through the policy. */
export interface RetryGiveUpEvent {
  /** The 0-based number of the last attempt. */
  readonly attempt: number;
  /** The error the call rejects with (the caller's own reason when `reason` is `cancelled`). */
  readonly error: unknown;
  /** Why the policy did not retry. */
  readonly reason: NotRetriedReason;
  /** The context the policy received (the call's). */
  readonly context: Context;
}

/** Emitted by `onBudgetExhausted` when the retry budget refuses a retry. */
export interface RetryBudgetExhaustedEvent {
  /** The 0-based number of the attempt that failed. */
  readonly attempt: number;
  /**
   * The error that would have been retried; the call rejects with a `RetryBudgetExhaustedError`
   * whose `cause` is this error.
   */
  readonly error: unknown;
  /** The budget's key (`'default'` without a `key` option). */
  readonly key: string;
  /** The context the policy received (the call's). */
  readonly context: Context;
}
