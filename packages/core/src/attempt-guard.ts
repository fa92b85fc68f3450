import { cancelOf } from './context.js';
import { hostAttribute, TimeoutError, targetText } from './errors.js';
import type { Context, TimeoutPhase, TimerHandle } from './types.js';

const PHASES: readonly TimeoutPhase[] = [
  'queue',
  'load',
  'connect',
  'headers',
  'first-token',
  'idle',
  'attempt',
  'total',
];

interface PhaseTimer {
  handle: TimerHandle;
  budgetMs: number;
  /** When the budget last started counting; a restart moves this instead of the timer. */
  since: number;
}

/**
 * One attempt's timers and cancel. Owns the signal handed to undici (so the caller's abort reason
 * is never handed to undici, which would decorate it), and a `failed` promise that rejects with
 * the first failure: a budget that fired or the context's signal.
 *
 * Restarting a running budget (the idle budget, at every chunk) costs a clock read, not a timer:
 * the timer, when it fires, re-arms itself for what is left since the last restart.
 */
export class AttemptGuard {
  failure: unknown = undefined;
  readonly #context: Context;
  readonly #started: number;
  /** Running budgets by phase; a plain object of a fixed shape (a Map costs more per call). */
  readonly #timers: Record<TimeoutPhase, PhaseTimer | undefined> = {
    queue: undefined,
    load: undefined,
    connect: undefined,
    headers: undefined,
    'first-token': undefined,
    idle: undefined,
    attempt: undefined,
    total: undefined,
  };
  #controller: AbortController | undefined;
  #failed: Promise<never> | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #onFail: ((error: unknown) => void) | undefined;
  /** Stops following the context's cancel. */
  readonly #stopListening: () => void;

  constructor(context: Context) {
    this.#context = context;
    this.#started = context.clock.now();
    const cancel = cancelOf(context);
    if (cancel.aborted) {
      this.#stopListening = () => {};
      this.fail(cancel.reason);
    } else {
      this.#stopListening = cancel.onAbort(() => this.fail(cancel.reason));
    }
  }

  /** A signal that aborts when the attempt fails or is abandoned. Made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.failure !== undefined) this.#controller.abort(new Error('aborted by Bulwark'));
    }
    return this.#controller.signal;
  }

  /** Rejects with the first failure; never resolves. Made on first use. */
  get failed(): Promise<never> {
    if (!this.#failed) {
      this.#failed =
        this.failure !== undefined
          ? Promise.reject(this.failure)
          : new Promise<never>((_, reject) => {
              this.#reject = reject;
            });
      this.#failed.catch(() => {});
    }
    return this.#failed;
  }

  /** Calls `listener` once with the first failure (at once if the attempt has already failed). */
  onFail(listener: (error: unknown) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.#onFail = listener;
  }

  /** Milliseconds since the attempt started. */
  elapsedMs(): number {
    return this.#context.clock.now() - this.#started;
  }

  /**
   * Starts (or restarts) the budget of `phase`, unless the deadline in force comes first: then the
   * policy that owns the deadline reports it, under its own name.
   */
  start(phase: TimeoutPhase, budgetMs: number | undefined): void {
    const running = this.#timers[phase];
    if (budgetMs === undefined || this.failure !== undefined) {
      if (running) this.clear(phase);
      return;
    }
    const context = this.#context;
    if (budgetMs >= context.remainingMs()) {
      if (running) this.clear(phase);
      return;
    }
    if (running && running.budgetMs === budgetMs) {
      running.since = context.clock.now();
      return;
    }
    if (running) this.clear(phase);
    this.#arm(phase, budgetMs, context.clock.now(), budgetMs);
  }

  #arm(phase: TimeoutPhase, budgetMs: number, since: number, delayMs: number): void {
    const context = this.#context;
    const timer: PhaseTimer = {
      budgetMs,
      since,
      handle: context.clock.setTimeout(() => {
        // After the process was starved of CPU, Node runs expired timers before it reads the sockets
        // that have data waiting. Decide on the next turn, once pending I/O was seen: a chunk that
        // arrived in time clears or restarts this budget first.
        setImmediate(() => this.#expire(phase, timer));
      }, delayMs),
    };
    this.#timers[phase] = timer;
  }

  #expire(phase: TimeoutPhase, timer: PhaseTimer): void {
    if (this.#timers[phase] !== timer) return;
    const context = this.#context;
    const left = timer.since + timer.budgetMs - context.clock.now();
    if (left > 0) {
      // Restarted since the timer was set: wait for what is left.
      this.#arm(phase, timer.budgetMs, timer.since, left);
      return;
    }
    this.#timers[phase] = undefined;
    this.fail(
      new TimeoutError({
        phase,
        timeoutMs: timer.budgetMs,
        elapsedMs: this.elapsedMs(),
        attempt: context.attempt,
        maxAttempts: context.maxAttempts,
        committed: context.committed,
        target: targetText(context.attributes.host, context.attributes.model),
        host: hostAttribute(context.attributes),
      }),
    );
  }

  clear(phase: TimeoutPhase): void {
    const timer = this.#timers[phase];
    if (timer) {
      timer.handle.clear();
      this.#timers[phase] = undefined;
    }
  }

  /** Records the first failure, aborts the request, rejects `failed` and tells the `onFail` listener. */
  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.#controller?.abort(new Error('aborted by Bulwark'));
    this.#reject?.(error);
    this.dispose();
    const listener = this.#onFail;
    this.#onFail = undefined;
    listener?.(error);
  }

  /** Aborts the request without a failure (the caller let go of the body). */
  abandon(): void {
    this.#controller?.abort(new Error('body cancelled by the caller'));
    this.dispose();
  }

  /** Clears every timer and stops following the context's signal. */
  dispose(): void {
    for (const phase of PHASES) this.clear(phase);
    this.#stopListening();
  }
}

/**
 * The failure of `guard` as the attempt must report it: a budget that fired after the request may
 * have reached a server that must not see it twice (`replaySafe` false) gives a timeout that is no
 * longer retryable; any other failure is returned as it is.
 */
export function finalGuardFailure(guard: AttemptGuard, replaySafe: boolean, context: Context): unknown {
  const failure = guard.failure;
  if (replaySafe || !(failure instanceof TimeoutError) || !failure.retryable) return failure;
  if (failure.phase !== 'headers' && failure.phase !== 'first-token' && failure.phase !== 'idle') {
    return failure;
  }
  return new TimeoutError({
    phase: failure.phase,
    timeoutMs: failure.timeoutMs,
    elapsedMs: failure.elapsedMs,
    attempt: failure.attempt,
    maxAttempts: context.maxAttempts,
    committed: failure.committed,
    retryable: false,
    host: failure.host,
  });
}
