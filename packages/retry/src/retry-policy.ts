import {
  BasePolicy,
  BulwarkError,
  type Clock,
  type Context,
  Emitter,
  type Event,
  type GiveUpReason,
  type KeyOption,
  type ObservablePolicy,
  type PolicyLimits,
  RetryBudgetExhaustedError,
  realClock,
  TimeoutError,
} from '@bulwark/core';
import { cancelOf, DEFAULT_KEY, LruMap, resolveKey, sleep } from '@bulwark/core/internal';
import type { IBackoff } from 'cockatiel';
import { RetryBudget } from './retry-budget.js';
import { type ResolvedRetryOptions, resolveRetryOptions } from './retry-options.js';
import type {
  RetryBackoffContext,
  RetryBudgetExhaustedEvent,
  RetryBudgetStatus,
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

/** Why the signal of a call aborted: a Bulwark deadline outside the retry, or the caller's cancel. */
function abortReason(reason: unknown): GiveUpReason {
  return TimeoutError.is(reason) ? 'outer-deadline' : 'cancelled';
}

/**
 * One call's lifecycle as a retry reports it on the call's context: the attempt in progress,
 * whether it has ended, whether the call has given up. Each is reported once: a cancel or an outer
 * deadline ends the attempt and gives up from the signal's listener, before the call's rejection
 * can be observed, and the later rethrow reports nothing again.
 */
class CallLifecycle {
  readonly #context: Context;
  readonly #giveUps: Emitter<RetryGiveUpEvent>;
  #attempt = 0;
  #attemptContext: Context | undefined;
  #givenUp = false;

  constructor(context: Context, giveUps: Emitter<RetryGiveUpEvent>) {
    this.#context = context;
    this.#giveUps = giveUps;
  }

  start(attempt: number, attemptContext: Context): void {
    this.#attempt = attempt;
    this.#attemptContext = attemptContext;
    const context = this.#context;
    context.reportCallEvent({
      type: 'attempt-start',
      attempt,
      maxAttempts: attemptContext.maxAttempts,
      at: context.clock.now(),
    });
  }

  end(error: unknown, failed: boolean): void {
    const attemptContext = this.#attemptContext;
    if (attemptContext === undefined) return;
    this.#attemptContext = undefined;
    const context = this.#context;
    context.reportCallEvent({
      type: 'attempt-end',
      attempt: this.#attempt,
      at: context.clock.now(),
      outcome: failed ? 'failure' : 'success',
      error,
      committed: attemptContext.committed,
    });
  }

  /** Reports the give-up (once) and returns the error to rethrow. */
  giveUp(error: unknown, reason: GiveUpReason): unknown {
    if (this.#givenUp) return error;
    this.#givenUp = true;
    this.end(error, true);
    const context = this.#context;
    const attempt = this.#attempt;
    if (this.#giveUps.size > 0) this.#giveUps.emit({ attempt, error, reason, context });
    context.reportCallEvent({ type: 'give-up', attempt, reason, error, at: context.clock.now() });
    return error;
  }
}

/**
 * The `retry()` policy: runs each attempt with `context.with({ attempt, maxAttempts })`, waits with
 * backoff (or the server's `Retry-After`) between attempts, and never replays a committed attempt,
 * retries a caller's cancel, waits past the deadline or spends more than its retry budget.
 */
export class RetryPolicy extends BasePolicy implements Extract<ObservablePolicy, { kind: 'retry' }> {
  /** What telemetry knows this policy by. */
  readonly kind = 'retry' as const;
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
   * The retry budget of `key` for a gauge: the whole retries it allows right now (`Infinity` with
   * `budget: false`; the budget's `minRetries` for a key not seen yet).
   */
  state(key: string = DEFAULT_KEY): RetryBudgetStatus {
    if (this.#budget) return { remaining: this.#budget.remaining() };
    if (this.#keyedBudgets) {
      const budget = this.#keyedBudgets.peek(key);
      return { remaining: budget ? budget.remaining() : (this.#options.budget?.minRetries ?? 0) };
    }
    return { remaining: Number.POSITIVE_INFINITY };
  }

  /**
   * Every budget kept, by key (`'default'` when the policy is not keyed), for gauges. Yields
   * nothing with `budget: false`.
   */
  *states(): IterableIterator<[string, RetryBudgetStatus]> {
    if (this.#budget) yield [DEFAULT_KEY, { remaining: this.#budget.remaining() }];
    else if (this.#keyedBudgets) {
      for (const [key, budget] of this.#keyedBudgets.entries())
        yield [key, { remaining: budget.remaining() }];
    }
  }

  /** @deprecated Use `state(key).remaining`. */
  budgetRemaining(key: string = DEFAULT_KEY): number {
    return this.state(key).remaining;
  }

  /** @deprecated Use `states()`, whose entries are `[key, { remaining }]`. */
  *budgets(): IterableIterator<[string, number]> {
    for (const [key, status] of this.states()) yield [key, status.remaining];
  }

  async run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const options = this.#options;
    const { maxAttempts } = options;
    const key = this.#keyedBudgets ? resolveKey(options.key as KeyOption, context) : DEFAULT_KEY;
    const budget = this.#budget ?? this.#keyedBudgets?.getOrCreate(key, () => this.#newBudget());
    budget?.recordCall();
    if (budget) options.budgetStore?.recordCall(key, options.budget as NonNullable<typeof options.budget>);
    const cancel = cancelOf(context);
    const clock = context.clock;
    const call = new CallLifecycle(context, this.#giveUps);
    const stopListening = cancel.onAbort(() => call.giveUp(cancel.reason, abortReason(cancel.reason)));
    // Attempts start fresh commit states; a commit is passed outward as it happens, so policies
    // and observers outside this one see it too.
    const onCommit = (): void => context.commit();
    // Extra requests an attempt sends (a hedge) are paid from the same budget as retries.
    const retryBudget =
      budget === undefined
        ? undefined
        : options.budgetStore
          ? () => this.#tryRetry(budget, key)
          : () => budget.tryRetry();
    let backoff: IBackoff<RetryBackoffContext> | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const attemptContext = context.with({ attempt, maxAttempts, onCommit, retryBudget });
        call.start(attempt, attemptContext);
        let error: unknown;
        try {
          const value = await next(attemptContext);
          call.end(undefined, false);
          return value;
        } catch (caught) {
          error = caught;
        }

        if (cancel.aborted) throw call.giveUp(cancel.reason, abortReason(cancel.reason));
        call.end(error, true);
        if (attemptContext.committed || (BulwarkError.is(error) && error.committed)) {
          throw call.giveUp(error, 'committed');
        }
        if (!options.retryOn(error, attemptContext)) throw call.giveUp(error, 'not-retryable');
        if (attempt + 1 >= maxAttempts) throw call.giveUp(error, 'max-attempts');

        const backoffContext: RetryBackoffContext = {
          attempt: attempt + 1,
          // Made only if a backoff reads it (see core's Cancel).
          get signal() {
            return context.signal;
          },
          result: { error },
          error,
          context: attemptContext,
        };
        backoff = backoff ? backoff.next(backoffContext) : options.backoff.next(backoffContext);
        const delayMs = this.#delayMs(backoff.duration, error);
        if (delayMs >= context.remainingMs()) throw call.giveUp(error, 'deadline');
        const allowed =
          budget === undefined ||
          (options.budgetStore ? await this.#tryRetry(budget, key) : budget.tryRetry());
        if (!allowed) {
          if (this.#exhausted.size > 0) this.#exhausted.emit({ attempt, error, key, context });
          const ratio = (options.budget as NonNullable<typeof options.budget>).ratio;
          call.end(error, true);
          throw call.giveUp(new RetryBudgetExhaustedError({ cause: error, ratio }), 'budget');
        }

        if (this.#retries.size > 0) this.#retries.emit({ attempt, delayMs, error, context });
        if (delayMs > 0) {
          try {
            await sleep(delayMs, { clock: clock === realClock ? keepAliveClock : clock, cancel });
          } catch {
            throw call.giveUp(cancel.reason, abortReason(cancel.reason));
          }
        } else if (cancel.aborted) {
          throw call.giveUp(cancel.reason, abortReason(cancel.reason));
        }
      }
    } finally {
      stopListening();
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
