import { AssertionError } from 'node:assert';
import type { Context } from './types.js';

/** Where a stream's consumption stands: still reading, or how it ended. */
export type StreamLifetimeState = 'open' | 'ended' | 'failed' | 'cancelled';

/**
 * The rule "the attempt lasts as long as the stream", for one attempt whose output the caller
 * consumes after the attempt's function produced it (an iterator of records, a `Response` body).
 * The attempt's function returns {@link StreamLifetime.done}, so every policy around it — the
 * timeout budgets, the bulkhead slot, the breaker's outcome, the attempt's span — ends only when
 * the caller's consumption ends:
 *
 * | call            | when                                       | `done`                 |
 * | --------------- | ------------------------------------------ | ---------------------- |
 * | `end()`         | the caller has taken the last piece         | resolves               |
 * | `fail(error)`   | reading the body failed                      | rejects with `error`   |
 * | `cancel(why)`   | the caller let go (`return()`, `cancel()`)   | resolves; `onCancel` stops the source |
 *
 * The first of the three decides; a later one is ignored (a caller may cancel a stream that has
 * ended). The first piece that reaches the caller commits the attempt (`delivered()`): from then on
 * no policy replays it. Handing the caller a piece after the stream ended or was cancelled is a bug
 * and throws an `AssertionError`.
 */
export class StreamLifetime {
  /** Settles when the caller's consumption ends: see the table above. */
  readonly done: Promise<void>;
  readonly #context: Context;
  readonly #onCancel: ((reason: unknown) => void) | undefined;
  #state: StreamLifetimeState = 'open';
  /** A piece reached the caller (the context was told once; every record of a stream passes here). */
  #delivered = false;
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  /** `onCancel` stops the source (aborts the request) when the caller lets go first. */
  constructor(context: Context, onCancel?: (reason: unknown) => void) {
    this.#context = context;
    this.#onCancel = onCancel;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A failure reaches the policies through the attempt's own rejection; `done` may go unread.
    this.done.catch(() => {});
  }

  get state(): StreamLifetimeState {
    return this.#state;
  }

  /** Whether a piece of this attempt has reached the caller. */
  get committed(): boolean {
    return this.#context.committed;
  }

  /** A piece reached the caller: the first one commits the attempt. */
  delivered(): void {
    if (this.#state === 'ended' || this.#state === 'cancelled') {
      throw new AssertionError({ message: `a stream delivered a piece after it was ${this.#state}` });
    }
    if (this.#delivered) return;
    this.#delivered = true;
    this.#context.commit();
  }

  /** The caller has taken the last piece. */
  end(): void {
    if (this.#state !== 'open') return;
    this.#state = 'ended';
    this.#resolve();
  }

  /** Reading the body failed with `error`: the attempt fails with it. */
  fail(error: unknown): void {
    if (this.#state !== 'open') return;
    this.#state = 'failed';
    this.#reject(error);
  }

  /** The caller let go before the end: the source is stopped, and the attempt ends without a failure. */
  cancel(reason?: unknown): void {
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    this.#resolve();
    this.#onCancel?.(reason);
  }
}
