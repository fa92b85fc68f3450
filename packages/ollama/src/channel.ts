import type { StreamLifetime } from '@bulwark/core/internal';

/**
 * Hands a stream's records from the attempt that reads them to the caller that iterates them.
 * Each attempt's records come with its {@link StreamLifetime}: the first record the caller
 * receives commits that attempt, the lifetime ends once the caller has taken the attempt's last
 * record ({@link Channel.finish}), and it is cancelled when the caller lets go ({@link Channel.abandon}).
 * Records of an attempt that failed before the caller saw any are dropped, so a retry never
 * delivers a record twice.
 *
 * Attempts run one after another: a failed attempt's records are dropped (or, once committed, the
 * call ends) before the next attempt pushes, so the records waiting here are all of one attempt.
 */
export class Channel<T> {
  #items: T[] = [];
  #head = 0;
  readonly #highWaterMark: number;
  /** The lifetime of the attempt whose records are waiting here (or were last). */
  #lifetime: StreamLifetime | undefined;
  /** The attempt has pushed its last record: its lifetime ends when the caller has taken them all. */
  #finishing = false;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #waiterReject: ((error: unknown) => void) | undefined;
  #emptied: (() => void) | undefined;
  #ended = false;
  #error: { error: unknown } | undefined;
  #started = false;
  #readyResolve!: () => void;
  #readyReject!: (error: unknown) => void;
  /** Settles when the first record is available, or when the stream ended or failed first. */
  readonly ready: Promise<void>;

  constructor(highWaterMark = 1_024) {
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

  /** Adds a record of the attempt `lifetime`. See {@link Channel.backlog} for holding the source back. */
  push(value: T, lifetime: StreamLifetime): void {
    if (this.#ended) return;
    if (!this.#started) {
      this.#started = true;
      this.#readyResolve();
    }
    if (this.#lifetime !== lifetime) {
      this.#lifetime = lifetime;
      this.#finishing = false;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#waiterReject = undefined;
      lifetime.delivered();
      waiter({ value, done: false });
      return;
    }
    this.#items.push(value);
  }

  /**
   * The attempt `lifetime` pushed its last record: its lifetime ends once the caller has taken
   * every record handed over (at once when none is waiting), so the attempt of a stream lasts until
   * its last record was read, not just received.
   */
  finish(lifetime: StreamLifetime): void {
    if (this.#size === 0 || this.#lifetime !== lifetime) lifetime.end();
    else this.#finishing = true;
  }

  /**
   * How far behind the caller is: `none` when it has taken every record handed over, `full` when
   * the high-water mark of records waits (hold the source), else `some`.
   */
  backlog(): 'none' | 'some' | 'full' {
    const size = this.#size;
    if (size === 0 || this.#ended) return 'none';
    return size < this.#highWaterMark ? 'some' : 'full';
  }

  /** A promise that settles once the caller has taken every record handed over, or the channel ended. */
  emptied(): Promise<void> {
    if (this.#size === 0 || this.#ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#emptied = resolve;
    });
  }

  /** Drops the records of a failed attempt that the caller has not received. */
  drop(lifetime: StreamLifetime): void {
    if (lifetime !== this.#lifetime) return;
    this.#clear();
    this.#releaseEmptied();
  }

  /** The stream ended: the caller gets what is left, then `done`. */
  close(): void {
    this.#ended = true;
    this.#readyResolve();
    this.#settleWaiter();
    this.#releaseEmptied();
  }

  /** The stream failed: the caller gets what is left, then the error. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = { error };
    this.#readyReject(error);
    this.#settleWaiter();
    this.#releaseEmptied();
  }

  /** Ends the channel for the caller at once, dropping what is left: the attempt reading is cancelled. */
  abandon(error?: unknown): void {
    this.#clear();
    this.#ended = true;
    if (error !== undefined) this.#error = { error };
    this.#lifetime?.cancel(error);
    this.#releaseEmptied();
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
      (this.#lifetime as StreamLifetime).delivered();
      if (this.#emptied !== undefined || this.#finishing) this.#releaseEmptied();
      return Promise.resolve({ value, done: false });
    }
    if (this.#error) return Promise.reject(this.#error.error);
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#waiter = resolve;
      this.#waiterReject = reject;
    });
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #releaseEmptied(): void {
    const size = this.#size;
    if (size === 0 && this.#finishing) {
      this.#finishing = false;
      this.#lifetime?.end();
    }
    if (this.#emptied && (size === 0 || this.#ended)) {
      const emptied = this.#emptied;
      this.#emptied = undefined;
      emptied();
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
