import {
  BasePolicy,
  BulkheadRejectedError,
  type Context,
  Emitter,
  type Event,
  InvalidOptionError,
  type KeyOption,
  type ObservablePolicy,
  TimeoutError,
  type TimerHandle,
} from '@bulwark/core';
import {
  cancelOf,
  duration,
  hostAttribute,
  integer,
  keyOption,
  LruMap,
  object,
  resolveKey,
  validateOptions,
} from '@bulwark/core/internal';
import type {
  BulkheadAcquiredEvent,
  BulkheadLease,
  BulkheadOptions,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStatus,
  BulkheadStore,
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

export const DEFAULT_STORE_POLL_MS = 50;

interface Waiter {
  grant: (lease?: BulkheadLease) => void;
  /** Fails the waiter (a store that failed closed). */
  fail: (error: unknown) => void;
  settled: boolean;
}

class KeyState {
  running = 0;
  rejected = 0;
  /** FIFO of waiters; `head` skips the served ones without shifting the array each time. */
  waiters: Waiter[] = [];
  head = 0;
  /** With a store: whether the first waiter is asking it, and how to cut its pause short. */
  pumping = false;
  /** With a store: calls asking it for a slot without queueing (none may pass a queued one). */
  asking = 0;
  wake: (() => void) | undefined;

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
export class BulkheadPolicy extends BasePolicy implements Extract<ObservablePolicy, { kind: 'bulkhead' }> {
  readonly limit: number;
  readonly queue: number;
  readonly queueMs: number | undefined;
  readonly #key: KeyOption | undefined;
  readonly #store: BulkheadStore | undefined;
  readonly #states: LruMap<string, KeyState>;
  readonly #queued = new Emitter<BulkheadQueuedEvent>();
  readonly #acquired = new Emitter<BulkheadAcquiredEvent>();
  readonly #rejected = new Emitter<BulkheadRejectedEvent>();
  readonly #released = new Emitter<BulkheadReleasedEvent>();
  /** What telemetry knows this policy by. */
  readonly kind = 'bulkhead' as const;
  /** A call waits in the queue. */
  readonly onQueued: Event<BulkheadQueuedEvent> = this.#queued.event;
  /** A call got its slot (at once or after waiting). */
  readonly onAcquired: Event<BulkheadAcquiredEvent> = this.#acquired.event;
  /** A call was turned away (slots and queue full), with the `BulkheadRejectedError` it rejects with. */
  readonly onRejected: Event<BulkheadRejectedEvent> = this.#rejected.event;
  /** A call gave its slot back. */
  readonly onReleased: Event<BulkheadReleasedEvent> = this.#released.event;

  constructor(options: BulkheadOptions = {}) {
    super();
    validateOptions('bulkhead()', options, {
      key: keyOption,
      limit: integer(1),
      queue: integer(0),
      queueMs: duration(0),
      maxKeys: integer(1),
      store: object,
    });
    if (options.store !== undefined && typeof options.store.tryAcquire !== 'function') {
      throw new InvalidOptionError(
        'bulkhead(): option "store" must have a tryAcquire(key, limit) method',
        'store',
      );
    }
    this.#store = options.store;
    this.limit = options.limit ?? DEFAULT_LIMIT;
    this.queue = options.queue ?? DEFAULT_QUEUE;
    this.queueMs = options.queueMs;
    this.#key = options.key;
    this.#states = new LruMap(options.maxKeys ?? 1_000, {
      canEvict: (state) => state.running === 0 && state.queued === 0 && !state.pumping && state.asking === 0,
    });
  }

  /** The counters of `key` (all 0 for a key not seen yet). */
  state(key = 'default'): BulkheadStatus {
    const state = this.#states.peek(key);
    return { running: state?.running ?? 0, queued: state?.queued ?? 0, rejected: state?.rejected ?? 0 };
  }

  /** Every key with its counters. */
  *states(): IterableIterator<[string, BulkheadStatus]> {
    for (const [key, state] of this.#states.entries()) {
      yield [key, { running: state.running, queued: state.queued, rejected: state.rejected }];
    }
  }

  /** @deprecated Use `state(key)`. */
  stats(key = 'default'): BulkheadStatus {
    return this.state(key);
  }

  /** @deprecated Use `states()`. */
  entries(): IterableIterator<[string, BulkheadStatus]> {
    return this.states();
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const key = resolveKey(this.#key, context);
    const state = this.#states.getOrCreate(key, () => new KeyState());
    if (this.#store) return this.#runWithStore(this.#store, state, key, context, next);
    if (state.running < this.limit && state.queued === 0) {
      state.running++;
      if (this.#acquired.size > 0) this.#acquired.emit({ key, waitedMs: 0, context });
      return this.#hold(state, key, context, next);
    }
    if (state.queued >= this.queue) {
      return Promise.reject(this.#reject(state, key, context));
    }
    return this.#wait(state, key, context).then(() => this.#hold(state, key, context, next));
  }

  /** Counts a refusal, tells `onRejected` and returns the error the call rejects with. */
  #reject(state: KeyState, key: string, context: Context): BulkheadRejectedError {
    state.rejected++;
    const error = new BulkheadRejectedError({
      key,
      limit: this.limit,
      queue: this.queue,
      host: hostAttribute(context.attributes),
    });
    if (this.#rejected.size > 0) this.#rejected.emit({ key, error, context });
    return error;
  }

  #wait(state: KeyState, key: string, context: Context, first = false): Promise<BulkheadLease | undefined> {
    const clock = context.clock;
    const started = clock.now();
    // A deadline that comes first is reported by the timeout that owns it, under its own name.
    const budget =
      this.queueMs !== undefined && this.queueMs < context.remainingMs()
        ? this.queueMs
        : Number.POSITIVE_INFINITY;
    return new Promise<BulkheadLease | undefined>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const cancel = cancelOf(context);
      let stopListening = (): void => {};
      const finish = () => {
        waiter.settled = true;
        timer?.clear();
        stopListening();
      };
      const waiter: Waiter = {
        settled: false,
        grant: (lease) => {
          finish();
          state.running++;
          if (this.#acquired.size > 0) this.#acquired.emit({ key, waitedMs: clock.now() - started, context });
          resolve(lease);
        },
        fail: (error) => {
          finish();
          reject(error);
        },
      };
      const leave = (error: unknown) => {
        finish();
        state.remove(waiter);
        reject(error);
      };
      if (cancel.aborted) {
        reject(cancel.reason);
        return;
      }
      if (first) state.waiters.splice(state.head, 0, waiter);
      else state.waiters.push(waiter);
      stopListening = cancel.onAbort(() => leave(cancel.reason));
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
                host: hostAttribute(context.attributes),
              }),
            ),
          budget,
        );
      }
      if (this.#queued.size > 0) this.#queued.emit({ key, queued: state.queued, context });
      if (this.#store) this.#pump(this.#store, state, key);
    });
  }

  async #runWithStore<T>(
    store: BulkheadStore,
    state: KeyState,
    key: string,
    context: Context,
    next: (context: Context) => Promise<T>,
  ): Promise<T> {
    // Only the first of calls arriving together asks at once; the others queue behind it, and it
    // takes the head of the queue if no slot was free. Without a queue, every call just asks.
    let first = false;
    if (state.queued === 0 && (state.asking === 0 || this.queue === 0)) {
      first = true;
      state.asking++;
      let lease: BulkheadLease | undefined;
      try {
        lease = await store.tryAcquire(key, this.limit);
      } finally {
        state.asking--;
      }
      if (lease) {
        const cancel = cancelOf(context);
        if (cancel.aborted) {
          lease.release();
          throw cancel.reason;
        }
        state.running++;
        if (this.#acquired.size > 0) this.#acquired.emit({ key, waitedMs: 0, context });
        return this.#hold(state, key, context, next, lease);
      }
    }
    if (state.queued + (first ? 0 : state.asking) >= this.queue) {
      throw this.#reject(state, key, context);
    }
    const lease = await this.#wait(state, key, context, first);
    return this.#hold(state, key, context, next, lease);
  }

  /** Asks the store for slots on behalf of the queue, in order, until the queue is empty. */
  async #pump(store: BulkheadStore, state: KeyState, key: string): Promise<void> {
    if (state.pumping) return;
    state.pumping = true;
    try {
      while (state.queued > 0) {
        let lease: BulkheadLease | undefined;
        try {
          lease = await store.tryAcquire(key, this.limit);
        } catch (error) {
          for (let waiter = state.take(); waiter; waiter = state.take()) waiter.fail(error);
          return;
        }
        if (lease) {
          const waiter = state.take();
          if (waiter) waiter.grant(lease);
          else lease.release();
          continue;
        }
        if (state.queued === 0) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            state.wake = undefined;
            resolve();
          }, store.pollMs ?? DEFAULT_STORE_POLL_MS);
          timer.unref?.();
          state.wake = () => {
            clearTimeout(timer);
            state.wake = undefined;
            resolve();
          };
        });
      }
    } finally {
      state.pumping = false;
    }
  }

  async #hold<T>(
    state: KeyState,
    key: string,
    context: Context,
    next: (context: Context) => Promise<T>,
    lease?: BulkheadLease,
  ): Promise<T> {
    try {
      return await next(context);
    } finally {
      state.running--;
      if (this.#released.size > 0) this.#released.emit({ key, context });
      if (lease) {
        lease.release();
        state.wake?.();
      } else if (state.running < this.limit) state.take()?.grant();
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
