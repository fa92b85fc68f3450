import { TimeoutError } from './errors.js';
import { neverAborted } from './never-aborted.js';
import type { Context, TimeoutPhase, TimerHandle } from './types.js';

/**
 * One attempt's timers and cancel. Owns the signal handed to undici (so the caller's abort reason
 * is never handed to undici, which would decorate it), and a `failed` promise that rejects with
 * the first failure: a budget that fired or the context's signal.
 */
export class AttemptGuard {
  readonly signal: AbortSignal;
  readonly failed: Promise<never>;
  failure: unknown = undefined;
  readonly #controller = new AbortController();
  readonly #context: Context;
  readonly #started: number;
  readonly #timers = new Map<TimeoutPhase, TimerHandle>();
  #reject!: (error: unknown) => void;
  readonly #onAbort = () => this.fail(this.#context.signal.reason);

  constructor(context: Context) {
    this.#context = context;
    this.#started = context.clock.now();
    this.signal = this.#controller.signal;
    this.failed = new Promise<never>((_, reject) => {
      this.#reject = reject;
    });
    this.failed.catch(() => {});
    if (context.signal.aborted) this.fail(context.signal.reason);
    else if (context.signal !== neverAborted)
      context.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Milliseconds since the attempt started. */
  elapsedMs(): number {
    return this.#context.clock.now() - this.#started;
  }

  /**
   * Starts the budget of `phase`, unless the deadline in force comes first: then the policy that
   * owns the deadline reports it, under its own name.
   */
  start(phase: TimeoutPhase, budgetMs: number | undefined): void {
    this.clear(phase);
    if (budgetMs === undefined || this.failure !== undefined) return;
    if (budgetMs >= this.#context.remainingMs()) return;
    const context = this.#context;
    const handle = context.clock.setTimeout(() => {
      // After the process was starved of CPU, Node runs expired timers before it reads the sockets
      // that have data waiting. Decide on the next turn, once pending I/O was seen: a chunk that
      // arrived in time clears or restarts this budget first.
      setImmediate(() => {
        if (this.#timers.get(phase) !== handle) return;
        this.#timers.delete(phase);
        this.fail(
          new TimeoutError({
            phase,
            timeoutMs: budgetMs,
            elapsedMs: this.elapsedMs(),
            attempt: context.attempt,
            maxAttempts: context.maxAttempts,
            committed: context.committed,
          }),
        );
      });
    }, budgetMs);
    this.#timers.set(phase, handle);
  }

  clear(phase: TimeoutPhase): void {
    const timer = this.#timers.get(phase);
    if (timer) {
      timer.clear();
      this.#timers.delete(phase);
    }
  }

  /** Records the first failure, aborts the request and rejects `failed`. */
  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.#controller.abort(new Error('aborted by Bulwark'));
    this.#reject(error);
    this.dispose();
  }

  /** Aborts the request without a failure (the caller let go of the body). */
  abandon(): void {
    this.#controller.abort(new Error('body cancelled by the caller'));
    this.dispose();
  }

  /** Clears every timer and stops following the context's signal. */
  dispose(): void {
    for (const timer of this.#timers.values()) timer.clear();
    this.#timers.clear();
    this.#context.signal.removeEventListener('abort', this.#onAbort);
  }
}
