import type { Context } from '@bulwark/core';

/**
 * Hands a stream's records from the attempt that reads them to the caller that iterates them.
 * The attempt commits when the caller receives its first record; records of an attempt that failed
 * before the caller saw any are dropped, so a retry never delivers a record twice.
 *
 * Attempts run one after another: a failed attempt's records are dropped (or, once committed, the
 * call ends) before the next attempt pushes, so the records waiting here are all of one attempt.
 */
export class Channel<T> {
  #items: T[] = [];
  #head = 0;
  readonly #highWaterMark: number;
  #context: Context | undefined;
  #attempt = -1;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #waiterReject: ((error: unknown) => void) | undefined;
  #space: (() => void) | undefined;
  #drainWaiters: Array<() => void> = [];
  #ended = false;
  #error: { error: unknown } | undefined;
  #started = false;
  /** A record reached the caller: the attempt is committed, and no later attempt runs. */
  #committed = false;
  #readyResolve!: () => void;
  #readyReject!: (error: unknown) => void;
  /** Settles when the first record is available, or when the stream ended or failed first. */
  readonly ready: Promise<void>;

  constructor(highWaterMark = 64) {
    this.#highWaterMark = highWaterMark;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {});
  }

  get #size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a record of `attempt`. See {@link Channel.space} for holding the reader back. */
  push(value: T, context: Context, attempt: number): void {
    if (this.#ended) return;
    if (!this.#started) {
      this.#started = true;
      this.#readyResolve();
    }
    this.#context = context;
    this.#attempt = attempt;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#waiterReject = undefined;
      this.#committed = true;
      context.commit();
      waiter({ value, done: false });
      return;
    }
    this.#items.push(value);
  }

  /** A promise that settles once the caller has caught up, when it is behind; else `undefined`. */
  space(): Promise<void> | undefined {
    if (this.#size < this.#highWaterMark || this.#ended) return undefined;
    return new Promise<void>((resolve) => {
      this.#space = resolve;
    });
  }

  /** Drops the records of a failed attempt that the caller has not received. */
  drop(attempt: number): void {
    if (attempt !== this.#attempt) return;
    this.#clear();
    this.#releaseSpace();
  }

  /** The stream ended: the caller gets what is left, then `done`. */
  close(): void {
    this.#ended = true;
    this.#readyResolve();
    this.#settleWaiter();
    this.#releaseSpace();
  }

  /** The stream failed: the caller gets what is left, then the error. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = { error };
    this.#readyReject(error);
    this.#settleWaiter();
    this.#releaseSpace();
  }

  /** Ends the channel for the caller at once, dropping what is left. */
  abandon(error?: unknown): void {
    this.#clear();
    this.#ended = true;
    if (error !== undefined) this.#error = { error };
    this.#releaseSpace();
    this.#settleWaiter();
  }

  next(): Promise<IteratorResult<T>> {
    const items = this.#items;
    const head = this.#head;
    if (head < items.length) {
      const value = items[head] as T;
      if (head + 1 === items.length) this.#clear();
      else {
        items[head] = undefined as T;
        this.#head = head + 1;
      }
      if (!this.#committed) {
        this.#committed = true;
        this.#context?.commit();
      }
      if (this.#space !== undefined || this.#drainWaiters.length > 0) this.#releaseSpace();
      return Promise.resolve({ value, done: false });
    }
    if (this.#error) return Promise.reject(this.#error.error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#waiterReject = reject;
    });
  }

  /**
   * Settles once the caller has taken every record handed over (or let go of the stream): the
   * attempt of a stream lasts until its last chunk was read, not just received.
   */
  drained(): Promise<void> {
    if (this.#size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #releaseSpace(): void {
    const size = this.#size;
    if (size === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
    // Half empty before the reader goes on: fewer pauses of the socket than one per record.
    if (this.#space && (size <= this.#highWaterMark >> 1 || this.#ended)) {
      const space = this.#space;
      this.#space = undefined;
      space();
    }
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    const reject = this.#waiterReject;
    if (!waiter || this.#size > 0) return;
    this.#waiter = undefined;
    this.#waiterReject = undefined;
    if (this.#error) reject?.(this.#error.error);
    else waiter({ value: undefined, done: true });
  }
}
