import { type Clock, InvalidOptionError, realClock } from '@bulwark/core';
import { clockOption, duration, integer, numberIn, validateOptions } from '@bulwark/core/internal';
import type { IBreaker } from 'cockatiel';

export interface SamplingBreakerOptions {
  /** The failure ratio that opens the breaker, above 0 and at most 1. */
  threshold: number;
  /** The window the ratio is taken over. @default 30_000 */
  windowMs?: number;
  /** Calls the window must hold before it may open. @default 10 */
  minimumCalls?: number;
  /** @default realClock */
  clock?: Clock;
}

const BUCKETS = 10;

/**
 * A cockatiel `IBreaker` that opens when the failure ratio over a sliding window reaches
 * `threshold`, once the window holds `minimumCalls`. Unlike cockatiel's `SamplingBreaker` it reads
 * a Bulwark clock, so tests drive it without fake timers.
 */
export class SamplingWindowBreaker implements IBreaker {
  readonly threshold: number;
  readonly windowMs: number;
  readonly minimumCalls: number;
  readonly #clock: Clock;
  readonly #options: SamplingBreakerOptions;
  #buckets: Array<{ start: number; successes: number; failures: number }> = [];

  constructor(options: SamplingBreakerOptions) {
    validateOptions('samplingBreaker()', options, {
      threshold: numberIn(Number.MIN_VALUE, 1),
      windowMs: duration(1),
      minimumCalls: integer(1),
      clock: clockOption,
    });
    if (options?.threshold === undefined) {
      throw new InvalidOptionError(
        'samplingBreaker(): option "threshold" is required (a failure ratio above 0, at most 1)',
        'threshold',
      );
    }
    this.threshold = options.threshold;
    this.windowMs = options.windowMs ?? 30_000;
    this.minimumCalls = options.minimumCalls ?? 10;
    this.#clock = options.clock ?? realClock;
    this.#options = { ...options };
  }

  /**
   * A new breaker with the same options and a copy of this one's window. A keyed `circuitBreaker()`
   * given one instance as `breaker` counts each key on its own copy.
   */
  clone(): SamplingWindowBreaker {
    const copy = new SamplingWindowBreaker(this.#options);
    copy.state = this.state;
    return copy;
  }

  get state(): unknown {
    return { buckets: this.#buckets };
  }

  set state(value: unknown) {
    const buckets = (value as { buckets?: unknown } | undefined)?.buckets;
    this.#buckets = Array.isArray(buckets) ? buckets.map((bucket) => ({ ...bucket })) : [];
  }

  #bucket() {
    const now = this.#clock.now();
    const size = this.windowMs / BUCKETS;
    const start = Math.floor(now / size) * size;
    this.#buckets = this.#buckets.filter((bucket) => bucket.start > now - this.windowMs);
    let bucket = this.#buckets[this.#buckets.length - 1];
    if (!bucket || bucket.start !== start) {
      bucket = { start, successes: 0, failures: 0 };
      this.#buckets.push(bucket);
    }
    return bucket;
  }

  success(): void {
    this.#bucket().successes++;
  }

  failure(): boolean {
    this.#bucket().failures++;
    let failures = 0;
    let calls = 0;
    for (const bucket of this.#buckets) {
      failures += bucket.failures;
      calls += bucket.failures + bucket.successes;
    }
    if (calls >= this.minimumCalls && failures / calls >= this.threshold) {
      this.#buckets = [];
      return true;
    }
    return false;
  }
}

/** A breaker factory for a sampling window: `circuitBreaker({ breaker: samplingBreaker({ threshold: 0.5 }) })`. */
export function samplingBreaker(options: SamplingBreakerOptions): () => SamplingWindowBreaker {
  new SamplingWindowBreaker(options);
  return () => new SamplingWindowBreaker(options);
}
