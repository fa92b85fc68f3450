import {
  BasePolicy,
  BulkheadRejectedError,
  type Context,
  duration,
  Emitter,
  integer,
  type KeyOption,
  keyOption,
  LruMap,
  resolveKey,
  TimeoutError,
  type TimerHandle,
  validateOptions,
} from '@bulwark/core';
import type {
  BulkheadAcquiredEvent,
  BulkheadOptions,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStats,
} from './types.js';

/*
 * Why this does not run on cockatiel's BulkheadPolicy (3.2.1): a queued call whose signal aborts
 * stays in its queue until a slot frees and only then fails, with a `TaskCancelledError` that drops
 * the caller's reason; there is no wait limit and no key; and a freed slot reaches the next waiter
 * a microtask later, so a call arriving in between takes it first. What it does is a counter and a
 * FIFO. Both are kept here per key, with waits that end at once on cancel, at `queueMs` or at the
 * deadline, and a freed slot handed straight to the longest waiter.
 */

export const DEFAULT_LIMIT = 4;
export const DEFAULT_QUEUE = 64;

interface Waiter {
  grant: () => void;
  settled: boolean;
}

class KeyState {
  running = 0;
  rejected = 0;
  /** FIFO of waiters; `head` skips the served ones without shifting the array each time. */
  waiters: Waiter[] = [];
  head = 0;

  get queued(): number {
    return this.waiters.length - this.head;
  }

  take(): Waiter | undefined {
    while (this.head < this.waiters.length) {
      const waiter = this.waiters[this.head++] as Waiter;
      if (this.head > 1024 && this.head * 2 > this.waiters.length) {
        this.waiters = this.waiters.slice(this.head);
        this.head = 0;
      }
      if (!waiter.settled) return waiter;
    }
    return undefined;
  }

  remove(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter, this.head);
    if (index !== -1) this.waiters.splice(index, 1);
  }
}

/**
 * A keyed bulkhead: at most `limit` calls run per key and at most `queue` wait, first in, first out.
 * A call holds its slot until its operation settles: for a stream, until the stream ends, is
 * abandoned or fails.
 */
export class BulkheadPolicy extends BasePolicy {
  readonly limit: number;
  readonly queue: number;
  readonly queueMs: number | undefined;
  readonly #key: KeyOption | undefined;
  readonly #states: LruMap<string, KeyState>;
  readonly #queued = new Emitter<BulkheadQueuedEvent>();
  readonly #acquired = new Emitter<BulkheadAcquiredEvent>();
  readonly #rejected = new Emitter<BulkheadRejectedEvent>();
  readonly #released = new Emitter<BulkheadReleasedEvent>();
  /** A call waits in the queue. */
  readonly onQueued = this.#queued.event;
  /** A call got its slot (at once or after waiting). */
  readonly onAcquired = this.#acquired.event;
  /** A call was turned away: slots and queue full. */
  readonly onRejected = this.#rejected.event;
  /** A call gave its slot back. */
  readonly onReleased = this.#released.event;

  constructor(options: BulkheadOptions = {}) {
    super();
    validateOptions('bulkhead()', options, {
      key: keyOption,
      limit: integer(1),
      queue: integer(0),
      queueMs: duration(0),
      maxKeys: integer(1),
    });
    this.limit = options.limit ?? DEFAULT_LIMIT;
    this.queue = options.queue ?? DEFAULT_QUEUE;
    this.queueMs = options.queueMs;
    this.#key = options.key;
    this.#states = new LruMap(options.maxKeys ?? 1_000, {
      canEvict: (state) => state.running === 0 && state.queued === 0,
    });
  }

  /** The counters of `key`. */
  stats(key = 'default'): BulkheadStats {
    const state = this.#states.peek(key);
    return { running: state?.running ?? 0, queued: state?.queued ?? 0, rejected: state?.rejected ?? 0 };
  }

  /** Every key with its counters. */
  *entries(): IterableIterator<[string, BulkheadStats]> {
    for (const [key, state] of this.#states.entries()) {
      yield [key, { running: state.running, queued: state.queued, rejected: state.rejected }];
    }
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const key = resolveKey(this.#key, context);
    const state = this.#states.getOrCreate(key, () => new KeyState());
    if (state.running < this.limit && state.queued === 0) {
      state.running++;
      if (this.#acquired.size > 0) this.#acquired.emit({ key, waitedMs: 0, context });
      return this.#hold(state, key, context, next);
    }
    if (state.queued >= this.queue) {
      state.rejected++;
      if (this.#rejected.size > 0) this.#rejected.emit({ key, context });
      return Promise.reject(new BulkheadRejectedError({ key, limit: this.limit, queue: this.queue }));
    }
    return this.#wait(state, key, context).then(() => this.#hold(state, key, context, next));
  }

  #wait(state: KeyState, key: string, context: Context): Promise<void> {
    const clock = context.clock;
    const started = clock.now();
    // A deadline that comes first is reported by the timeout that owns it, under its own name.
    const budget =
      this.queueMs !== undefined && this.queueMs < context.remainingMs()
        ? this.queueMs
        : Number.POSITIVE_INFINITY;
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const signal = context.signal;
      const finish = () => {
        waiter.settled = true;
        timer?.clear();
        signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        settled: false,
        grant: () => {
          finish();
          state.running++;
          if (this.#acquired.size > 0) this.#acquired.emit({ key, waitedMs: clock.now() - started, context });
          resolve();
        },
      };
      const leave = (error: unknown) => {
        finish();
        state.remove(waiter);
        reject(error);
      };
      const onAbort = () => leave(signal.reason);
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      state.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(budget)) {
        timer = clock.setTimeout(
          () =>
            leave(
              new TimeoutError({
                phase: 'queue',
                timeoutMs: budget,
                elapsedMs: clock.now() - started,
                attempt: context.attempt,
                maxAttempts: context.maxAttempts,
              }),
            ),
          budget,
        );
      }
      if (this.#queued.size > 0) this.#queued.emit({ key, queued: state.queued, context });
    });
  }

  async #hold<T>(
    state: KeyState,
    key: string,
    context: Context,
    next: (context: Context) => Promise<T>,
  ): Promise<T> {
    try {
      return await next(context);
    } finally {
      state.running--;
      if (this.#released.size > 0) this.#released.emit({ key, context });
      if (state.running < this.limit) state.take()?.grant();
    }
  }
}

/**
 * Caps the calls that run at once, per key, with a bounded first-in-first-out queue.
 *
 * @example
 * const policy = wrap(retry(), bulkhead({ key: 'model', limit: 4, queue: 64, queueMs: 30_000 }));
 */
export function bulkhead(options: BulkheadOptions = {}): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
