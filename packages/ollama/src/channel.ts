import type { Context } from '@bulwark/core';

interface Item<T> {
  value: T;
  context: Context;
  attempt: number;
}

/**
 * Hands a stream's records from the attempt that reads them to the caller that iterates them.
 * The attempt commits when the caller receives its first record; records of an attempt that failed
 * before the caller saw any are dropped, so a retry never delivers a record twice.
 */
export class Channel<T> {
  readonly #items: Item<T>[] = [];
  readonly #highWaterMark: number;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #waiterReject: ((error: unknown) => void) | undefined;
  #space: (() => void) | undefined;
  #ended = false;
  #error: { error: unknown } | undefined;
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

  /** Adds a record; returns a promise when the caller is behind, to hold the reader back. */
  push(value: T, context: Context, attempt: number): Promise<void> | undefined {
    if (this.#ended) return undefined;
    this.#readyResolve();
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      this.#waiterReject = undefined;
      context.commit();
      waiter({ value, done: false });
      return undefined;
    }
    this.#items.push({ value, context, attempt });
    if (this.#items.length < this.#highWaterMark) return undefined;
    return new Promise<void>((resolve) => {
      this.#space = resolve;
    });
  }

  /** Drops the records of a failed attempt that the caller has not received. */
  drop(attempt: number): void {
    for (let i = this.#items.length - 1; i >= 0; i--)
      if (this.#items[i]?.attempt === attempt) this.#items.splice(i, 1);
    this.#releaseSpace();
  }

  /** The stream ended: the caller gets what is left, then `done`. */
  close(): void {
    this.#ended = true;
    this.#readyResolve();
    this.#settleWaiter();
  }

  /** The stream failed: the caller gets what is left, then the error. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = { error };
    this.#readyReject(error);
    this.#settleWaiter();
  }

  /** Ends the channel for the caller at once, dropping what is left. */
  abandon(error?: unknown): void {
    this.#items.length = 0;
    this.#ended = true;
    if (error !== undefined) this.#error = { error };
    this.#releaseSpace();
    this.#settleWaiter();
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.#items.shift();
    if (item) {
      item.context.commit();
      this.#releaseSpace();
      return Promise.resolve({ value: item.value, done: false });
    }
    if (this.#error) return Promise.reject(this.#error.error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#waiterReject = reject;
    });
  }

  #drainWaiters: Array<() => void> = [];

  /**
   * Settles once the caller has taken every record handed over (or let go of the stream): the
   * attempt of a stream lasts until its last chunk was read, not just received.
   */
  drained(): Promise<void> {
    if (this.#items.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  #releaseSpace(): void {
    if (this.#items.length === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
    if (this.#space && this.#items.length < this.#highWaterMark) {
      const space = this.#space;
      this.#space = undefined;
      space();
    }
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    const reject = this.#waiterReject;
    if (!waiter || this.#items.length > 0) return;
    this.#waiter = undefined;
    this.#waiterReject = undefined;
    if (this.#error) reject?.(this.#error.error);
    else waiter({ value: undefined, done: true });
  }
}
