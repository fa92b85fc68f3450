import {
  BasePolicy,
  BulwarkError,
  type Clock,
  type Context,
  Emitter,
  ErrorCode,
  type Event,
  type KeyOption,
  type NotRetriedReason,
  type PolicyLimits,
  RetryBudgetExhaustedError,
  realClock,
} from '@bulwark/core';
import { DEFAULT_KEY, LruMap, resolveKey, sleep } from '@bulwark/core/internal';
import type { IBackoff } from 'cockatiel';
import { RetryBudget } from './retry-budget.js';
import { type ResolvedRetryOptions, resolveRetryOptions } from './retry-options.js';
import type {
  RetryBackoffContext,
  RetryBudgetExhaustedEvent,
  RetryEvent,
  RetryGiveUpEvent,
  RetryOptions,
} from './types.js';

/*
 * Built on cockatiel's backoffs (the default is its ExponentialBackoff with decorrelated jitter, and
 * any cockatiel IBackoffFactory can be given). Its RetryPolicy loop is not used: its wait ignores the
 * signal (a cancel during backoff waits the whole delay), it knows no deadline, no commit state and
 * no budget, and it loses the caller's abort reason.
 */

/**
 * The real clock, but with a timer that keeps the process alive. A backoff wait is the only thing a
 * retrying call is doing: nothing else holds the event loop (the failed request's socket is gone or
 * idle), so with an unref'd timer a script awaiting the call would exit in the middle of the wait
 * (exit code 13 under top-level await, 0 otherwise) instead of retrying. cockatiel's retry keeps its
 * timer referenced by default for the same reason. Every wait is bounded by `maxDelayMs`.
 */
const keepAliveClock: Clock = {
  now: realClock.now,
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return { clear: () => clearTimeout(timer) };
  },
};

/** Sets a field on an error we may not own, unless it is frozen or the field is read-only. */
function mark(error: unknown, field: 'notRetried' | 'committed', value: unknown): void {
  if (typeof error !== 'object' || error === null || Object.isFrozen(error)) return;
  try {
    (error as Record<string, unknown>)[field] = value;
  } catch {
    // a read-only property on someone else's error: leave it
  }
}

function isCommitted(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { committed?: unknown }).committed === true;
}

/**
 * When a deadline above this policy fires during its retries, the `TimeoutError` it aborts with gets
 * the last attempt's error as its `cause`, so the chain reads `total → attempt → …`. Only a Bulwark
 * timeout without a cause of its own is touched; a caller's reason never is.
 */
function attachCause(reason: unknown, lastError: unknown): void {
  if (
    lastError === undefined ||
    reason === lastError ||
    !BulwarkError.is(reason) ||
    reason.code !== ErrorCode.Timeout ||
    Object.hasOwn(reason, 'cause') ||
    !Object.isExtensible(reason)
  ) {
    return;
  }
  Object.defineProperty(reason, 'cause', {
    value: lastError,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

/**
 * The `retry()` policy: runs each attempt with `context.with({ attempt, maxAttempts })`, waits with
 * backoff (or the server's `Retry-After`) between attempts, and never replays a committed attempt,
 * retries a caller's cancel, waits past the deadline or spends more than its retry budget.
 */
export class RetryPolicy extends BasePolicy {
  /** Attempts in total, the first one included. */
  readonly maxAttempts: number;
  readonly #options: ResolvedRetryOptions;
  readonly #budget: RetryBudget | undefined;
  readonly #keyedBudgets: LruMap<string, RetryBudget> | undefined;
  readonly #retries = new Emitter<RetryEvent>();
  readonly #giveUps = new Emitter<RetryGiveUpEvent>();
  readonly #exhausted = new Emitter<RetryBudgetExhaustedEvent>();

  /** Fires before each wait, with the failed attempt's number and error and the delay. */
  readonly onRetry: Event<RetryEvent> = this.#retries.event;
  /** Fires when the call fails through the policy, with the reason it was not retried. */
  readonly onGiveUp: Event<RetryGiveUpEvent> = this.#giveUps.event;
  /**
   * Fires when the retry budget refuses a retry, with the error that would have been retried; the
   * call then fails with a `RetryBudgetExhaustedError` whose `cause` is that error.
   */
  readonly onBudgetExhausted: Event<RetryBudgetExhaustedEvent> = this.#exhausted.event;

  constructor(options?: RetryOptions) {
    super();
    const resolved = resolveRetryOptions(options);
    this.#options = resolved;
    this.maxAttempts = resolved.maxAttempts;
    if (resolved.budget !== undefined) {
      if (resolved.key === undefined) this.#budget = this.#newBudget();
      else this.#keyedBudgets = new LruMap(resolved.maxKeys);
    }
  }

  /** The attempts and the longest wait between them, for a client's `timeouts()` report. */
  limits(): PolicyLimits {
    return { maxAttempts: this.maxAttempts, maxDelayMs: this.#options.maxDelayMs };
  }

  /**
   * Whole retries the budget allows right now (for a gauge): for `key` when the policy is keyed,
   * `Infinity` with `budget: false`.
   */
  budgetRemaining(key: string = DEFAULT_KEY): number {
    if (this.#budget) return this.#budget.remaining();
    if (this.#keyedBudgets) {
      const budget = this.#keyedBudgets.peek(key);
      return budget ? budget.remaining() : (this.#options.budget?.minRetries ?? 0);
    }
    return Number.POSITIVE_INFINITY;
  }

  /**
   * Whole retries each budget allows right now, by key (`'default'` when the policy is not keyed),
   * for gauges. Yields nothing with `budget: false`.
   */
  *budgets(): IterableIterator<[string, number]> {
    if (this.#budget) yield [DEFAULT_KEY, this.#budget.remaining()];
    else if (this.#keyedBudgets) {
      for (const [key, budget] of this.#keyedBudgets.entries()) yield [key, budget.remaining()];
    }
  }

  async run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const options = this.#options;
    const { maxAttempts } = options;
    const key = this.#keyedBudgets ? resolveKey(options.key as KeyOption, context) : DEFAULT_KEY;
    const budget = this.#budget ?? this.#keyedBudgets?.getOrCreate(key, () => this.#newBudget());
    budget?.recordCall();
    if (budget) options.budgetStore?.recordCall(key, options.budget as NonNullable<typeof options.budget>);
    // Attempts start fresh commit states; a commit is passed outward as it happens, so policies
    // and observers outside this one see it too.
    const onCommit = (): void => context.commit();
    let backoff: IBackoff<RetryBackoffContext> | undefined;
    let lastError: unknown;
    let onAbort: (() => void) | undefined;
    const signal = context.signal;
    try {
      for (let attempt = 0; ; attempt++) {
        const attemptContext = context.with({ attempt, maxAttempts, onCommit });
        let error: unknown;
        try {
          return await next(attemptContext);
        } catch (caught) {
          error = caught;
        }

        if (signal.aborted) throw this.#giveUp(signal.reason, 'cancelled', attempt, context);
        if (attemptContext.committed || isCommitted(error)) {
          if (BulwarkError.is(error)) mark(error, 'committed', true);
          throw this.#giveUp(error, 'committed', attempt, context);
        }
        if (!options.retryOn(error, attemptContext)) {
          throw this.#giveUp(error, 'not-retryable', attempt, context);
        }
        if (attempt + 1 >= maxAttempts) throw this.#giveUp(error, 'max-attempts', attempt, context);

        const backoffContext: RetryBackoffContext = {
          attempt: attempt + 1,
          signal,
          result: { error },
          error,
          context: attemptContext,
        };
        backoff = backoff ? backoff.next(backoffContext) : options.backoff.next(backoffContext);
        const delayMs = this.#delayMs(backoff.duration, error);
        if (delayMs >= context.remainingMs()) throw this.#giveUp(error, 'deadline', attempt, context);
        const allowed =
          budget === undefined ||
          (options.budgetStore ? await this.#tryRetry(budget, key) : budget.tryRetry());
        if (!allowed) {
          if (this.#exhausted.size > 0) this.#exhausted.emit({ attempt, error, key, context });
          const ratio = (options.budget as NonNullable<typeof options.budget>).ratio;
          throw this.#giveUp(
            new RetryBudgetExhaustedError({ cause: error, ratio }),
            'budget',
            attempt,
            context,
          );
        }

        lastError = error;
        if (onAbort === undefined) {
          onAbort = () => attachCause(signal.reason, lastError);
          signal.addEventListener('abort', onAbort, { once: true });
        }
        if (this.#retries.size > 0) this.#retries.emit({ attempt, delayMs, error, context });
        if (delayMs > 0) {
          try {
            const clock = context.clock === realClock ? keepAliveClock : context.clock;
            await sleep(delayMs, { clock, signal });
          } catch {
            throw this.#giveUp(signal.reason, 'cancelled', attempt, context);
          }
        } else if (signal.aborted) {
          throw this.#giveUp(signal.reason, 'cancelled', attempt, context);
        }
      }
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Takes a retry from the shared budget when a store answers, else from this process's window. */
  async #tryRetry(budget: RetryBudget, key: string): Promise<boolean> {
    const { budgetStore, budget: limits } = this.#options;
    if (budgetStore && limits) {
      let shared: boolean | undefined;
      try {
        shared = await budgetStore.tryRetry(key, limits);
      } catch {
        shared = undefined;
      }
      if (shared !== undefined) return shared;
    }
    return budget.tryRetry();
  }

  /** The wait before the next attempt: the server's `Retry-After` if it sent one, else the backoff. */
  #delayMs(backoffMs: number, error: unknown): number {
    const retryAfterMs = BulwarkError.is(error)
      ? (error as { retryAfterMs?: unknown }).retryAfterMs
      : undefined;
    const delayMs = typeof retryAfterMs === 'number' && retryAfterMs >= 0 ? retryAfterMs : backoffMs;
    // NaN and negative waits (a broken custom backoff) mean no wait.
    return delayMs > 0 ? Math.min(delayMs, this.#options.maxDelayMs) : 0;
  }

  #giveUp(error: unknown, reason: NotRetriedReason, attempt: number, context: Context): unknown {
    // The caller's cancel reason is theirs: never touched.
    if (reason !== 'cancelled') mark(error, 'notRetried', reason);
    if (this.#giveUps.size > 0) this.#giveUps.emit({ attempt, error, reason, context });
    return error;
  }

  #newBudget(): RetryBudget {
    const { budget, clock } = this.#options;
    return new RetryBudget({ ...(budget as NonNullable<typeof budget>), clock });
  }
}

/**
 * A retry policy. Defaults: 3 attempts in total; exponential backoff with decorrelated jitter
 * (cockatiel's), about 250 ms for the first wait and never more than 10 s; retries only errors whose
 * `retryable` flag is set; honours `Retry-After`; a budget of 20% of the calls in the last 10 s plus
 * 10 retries.
 *
 * @example
 * const policy = wrap(timeout({ totalMs: 60_000 }), retry({ maxAttempts: 4 }), timeout({ attemptMs: 20_000 }));
 */
export function retry(options?: RetryOptions): RetryPolicy {
  return new RetryPolicy(options);
}
