import type { Clock } from '@bulwark/core';

const BUCKETS = 10;

/**
 * Counts calls and retries over a sliding window kept in ten fixed buckets, so the bookkeeping never
 * grows with traffic. A retry is allowed while the retries in the window stay within
 * `minRetries + ratio × calls`.
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minRetries: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #callTotal = 0;
  #retryTotal = 0;
  /** The absolute bucket number (time / bucketMs) the newest bucket stands for. */
  #slot: number;

  constructor(options: { ratio: number; windowMs: number; minRetries: number; clock: Clock }) {
    this.ratio = options.ratio;
    this.minRetries = options.minRetries;
    this.#bucketMs = options.windowMs / BUCKETS;
    this.#clock = options.clock;
    this.#slot = Math.floor(this.#clock.now() / this.#bucketMs);
  }

  /** Counts one call. */
  recordCall(): void {
    const index = this.#advance();
    this.#calls[index] = (this.#calls[index] as number) + 1;
    this.#callTotal++;
  }

  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryRetry(): boolean {
    const index = this.#advance();
    if (this.#retryTotal + 1 > this.minRetries + this.ratio * this.#callTotal) return false;
    this.#retries[index] = (this.#retries[index] as number) + 1;
    this.#retryTotal++;
    return true;
  }

  /** Whole retries left in the window. */
  remaining(): number {
    this.#advance();
    return Math.max(0, Math.floor(this.minRetries + this.ratio * this.#callTotal - this.#retryTotal + 1e-9));
  }

  /** Drops the buckets that left the window; returns the index of the current bucket. */
  #advance(): number {
    const slot = Math.floor(this.#clock.now() / this.#bucketMs);
    if (slot > this.#slot) {
      const steps = Math.min(slot - this.#slot, BUCKETS);
      for (let step = 1; step <= steps; step++) {
        const index = (this.#slot + step) % BUCKETS;
        this.#callTotal -= this.#calls[index] as number;
        this.#retryTotal -= this.#retries[index] as number;
        this.#calls[index] = 0;
        this.#retries[index] = 0;
      }
      this.#slot = slot;
    }
    return this.#slot % BUCKETS;
  }
}
