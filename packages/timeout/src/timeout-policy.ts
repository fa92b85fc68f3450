import {
  BasePolicy,
  type Clock,
  type Context,
  Emitter,
  type Event,
  type ModelLoadWait,
  type ObservablePolicy,
  type PhaseBudgets,
  type PolicyLimits,
  TimeoutError,
} from '@bulwark/core';
import { cancelOf, hostAttribute, withCancel } from '@bulwark/core/internal';
import { resolveTimeoutOptions } from './timeout-options.js';
import type { TimeoutEvent, TimeoutOptions } from './types.js';

/*
 * Why this does not run on cockatiel's TimeoutPolicy (3.2.1): it aborts its signal without a reason
 * (the operation cannot tell a timeout from a cancel), it times with the global `setTimeout` rather
 * than the call's clock, and by default it aborts the signal when the function returns
 * (`abortOnReturn`), which would cut short a stream still being read. What it does is small: link a
 * cancel, arm one timer, race the operation. That is done here with core's `Cancel` (an
 * `AbortSignal` only when the operation reads `context.signal`), on the call's clock, with a
 * `TimeoutError` as the abort reason.
 */

/**
 * The `timeout()` policy. It bounds everything it wraps and hands its phase budgets to every attempt
 * beneath it. Placed outside `retry()` it is the call's deadline (`totalMs`); inside, a limit per
 * attempt (`attemptMs`).
 */
export class TimeoutPolicy extends BasePolicy implements Extract<ObservablePolicy, { kind: 'timeout' }> {
  /** What telemetry knows this policy by. */
  readonly kind = 'timeout' as const;
  /** The limit over what the policy wraps, or `undefined` when it only passes phase budgets inward. */
  readonly limitMs: number | undefined;
  /** The phase budgets handed to each attempt, or `undefined` for none. */
  readonly budgets: Readonly<PhaseBudgets> | undefined;
  readonly #phase: 'attempt' | 'total' | undefined;
  readonly #clock: Clock | undefined;
  readonly #timeouts = new Emitter<TimeoutEvent>();

  /** Fires when the limit expires, before the call rejects. */
  readonly onTimeout: Event<TimeoutEvent> = this.#timeouts.event;

  constructor(options: number | TimeoutOptions) {
    super();
    const resolved = resolveTimeoutOptions(options);
    this.limitMs = resolved.limitMs;
    this.budgets = resolved.budgets;
    this.#phase = resolved.phase;
    this.#clock = resolved.clock;
  }

  /** The limit and budgets this policy applies, for a client's `timeouts()` report. */
  limits(): PolicyLimits {
    return { limitMs: this.limitMs, phase: this.#phase, budgets: this.budgets };
  }

  /** This policy's limit for the call: the caller's `totalMs` or `attemptMs` wins over its own. */
  #limitFor(context: Context): number | undefined {
    const call = context.callTimeout;
    if (call === undefined) return this.limitMs;
    const phase = this.#phase ?? (context.maxAttempts === undefined ? 'total' : 'attempt');
    // A policy that only hands phase budgets inward gets no limit from the caller.
    const override =
      this.limitMs === undefined ? undefined : phase === 'total' ? call.totalMs : call.attemptMs;
    if (override === undefined) return this.limitMs;
    return override === Number.POSITIVE_INFINITY ? undefined : override;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const limitMs = this.#limitFor(context);
    if (limitMs === undefined) {
      return next(this.budgets === undefined ? context : context.with({ budgets: this.budgets }));
    }
    const outer = cancelOf(context);
    if (outer.aborted) return Promise.reject(outer.reason);
    const clock = this.#clock ?? context.clock;
    const start = clock.now();
    const deadline = (clock === context.clock ? start : context.clock.now()) + limitMs;
    let settled = false;
    // The inner signal aborts two ways: the caller's cancel (its own reason, passed on by the link)
    // and this policy's timer (a TimeoutError). Either way the call settles at once, before any
    // listener of the inner signal runs, even when the operation ignores its signal.
    let rejectCall!: (reason: unknown) => void;
    const onAbort = (reason: unknown): void => {
      if (settled) return;
      settle();
      rejectCall(reason);
    };
    // The inner call's cancel; an AbortSignal is made only if something beneath asks for one.
    const linked = outer.link(onAbort);
    // While the operation waits on a shared model load, an expiry reports phase `load`.
    let loading: ModelLoadWait | undefined;
    // From a retry beneath: the last failed attempt's error (the cause of an expiry during the
    // retries), and the error it gave up on because its next wait would overrun the deadline.
    let lastFailure: unknown;
    let gaveUpOnDeadline: unknown;
    const inner = withCancel(context, linked, {
      deadline,
      budgets: this.budgets,
      onModelLoad: (wait) => {
        loading = wait.type === 'wait-start' ? wait : undefined;
      },
      onCallEvent: (event) => {
        if (event.type === 'attempt-end' && event.outcome === 'failure') lastFailure = event.error;
        else if (event.type === 'give-up' && event.reason === 'deadline') gaveUpOnDeadline = event.error;
      },
    });
    const timer = clock.setTimeout(() => {
      if (settled) return;
      const error = this.#expired(context, limitMs, clock.now() - start, lastFailure, loading);
      // The call rejects first; the inner policies' listeners then see the reason before anyone
      // can observe the rejection.
      onAbort(error);
      linked.abort(error);
      this.#emit(error, limitMs, context);
    }, limitMs);
    const settle = (): void => {
      settled = true;
      timer.clear();
      linked.dispose();
    };

    return new Promise<T>((resolve, reject) => {
      rejectCall = reject;
      let promise: Promise<T>;
      try {
        promise = next(inner);
      } catch (error) {
        promise = Promise.reject(error);
      }
      promise.then(
        (value) => {
          if (settled) return;
          settle();
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settle();
          // A retry beneath gave up early because its next wait would overrun this deadline: the
          // call ran out of this budget, so say so, with the last attempt's error as the cause.
          if (inner.deadline === deadline && error === gaveUpOnDeadline && error !== undefined) {
            const expired = this.#expired(context, limitMs, clock.now() - start, error);
            this.#emit(expired, limitMs, context);
            reject(expired);
          } else {
            reject(error);
          }
        },
      );
    });
  }

  #expired(
    context: Context,
    limitMs: number,
    elapsedMs: number,
    cause: unknown,
    loading?: ModelLoadWait,
  ): TimeoutError {
    const phase = this.#budgetPhase(context);
    return new TimeoutError({
      phase: loading ? 'load' : phase,
      // A total deadline ends the call, waiting on a load or not.
      retryable: phase !== 'total',
      load: loading && {
        model: loading.model,
        host: loading.host,
        loadingMs: context.clock.now() - loading.loadStartedAt,
        continues: true,
      },
      timeoutMs: limitMs,
      elapsedMs,
      // Outside a retry the attempt number says nothing; inside one it says which attempt timed out.
      attempt: context.maxAttempts === undefined ? undefined : context.attempt,
      maxAttempts: context.maxAttempts,
      cause,
      // An attempt's budget concerns the attempt's host; a whole call's, no one host.
      host: phase === 'total' ? undefined : hostAttribute(context.attributes),
    });
  }

  /** The budget this policy enforces: `attempt` inside a retry, `total` outside, unless named. */
  #budgetPhase(context: Context): 'attempt' | 'total' {
    return this.#phase ?? (context.maxAttempts === undefined ? 'total' : 'attempt');
  }

  #emit(error: TimeoutError, limitMs: number, context: Context): void {
    if (this.#timeouts.size === 0) return;
    this.#timeouts.emit({
      phase: this.#budgetPhase(context),
      timeoutMs: limitMs,
      elapsedMs: error.elapsedMs,
      attempt: context.attempt,
      error,
      context,
    });
  }
}

/**
 * A timeout policy.
 *
 * - `timeout(ms)` bounds what it wraps; its error names the `total` budget when no retry is around
 *   it and the `attempt` budget when it runs inside `retry()`.
 * - `timeout({ attemptMs | totalMs, connectMs, headersMs, firstTokenMs, idleMs })` names the budget
 *   explicitly and hands the phase budgets to the transport of every attempt beneath it.
 *
 * When the limit fires, the inner signal aborts with a `TimeoutError` and the call rejects with it at
 * once, even if the operation ignores its signal. A caller's cancel rejects with the caller's reason.
 *
 * @example
 * const policy = wrap(timeout({ totalMs: 60_000 }), retry(), timeout({ attemptMs: 20_000, connectMs: 2_000 }));
 */
export function timeout(options: number | TimeoutOptions): TimeoutPolicy {
  return new TimeoutPolicy(options);
}
