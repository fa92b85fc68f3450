/** The weight of the newest sample in each moving average. */
const ALPHA = 0.2;
/** The highest failure rate the expected time counts (a host failing more is ejected anyway). */
const MAX_FAILURE_RATE = 0.9;

const average = (current: number | undefined, sample: number): number =>
  current === undefined ? sample : current + ALPHA * (sample - current);

/**
 * What one host's recent attempts say about how soon it answers: moving averages of the time to
 * first chunk and of the whole attempt, both taken only from attempts that found a free slot (so
 * they measure the host, not the queue this client made), and of the share of attempts that failed.
 */
export class HostLatency {
  /** Time to first chunk with a free slot, ms; `undefined` before the first sample. */
  firstChunkMs: number | undefined;
  /** A whole attempt with a free slot, ms. */
  attemptMs: number | undefined;
  /** Share of recent attempts that failed (connection failures, 5xx). */
  failureRate = 0;

  firstChunk(ms: number): void {
    this.firstChunkMs = average(this.firstChunkMs, ms);
  }

  attempt(ms: number): void {
    this.attemptMs = average(this.attemptMs, ms);
  }

  outcome(failed: boolean): void {
    this.failureRate += ALPHA * ((failed ? 1 : 0) - this.failureRate);
  }

  /**
   * How long one more attempt should take to its first chunk with `outstanding` attempts of this
   * client already on the host's `capacity` slots: the wait for a slot (the attempts queued ahead,
   * each freeing a slot every `attemptMs / capacity`), plus the time to first chunk, stretched by
   * the failures that send an attempt elsewhere (each costing about `referenceMs`, the fleet's
   * best time to first chunk, again). Before its first sample a host counts `referenceMs`.
   */
  expectedMs(outstanding: number, capacity: number, referenceMs: number): number {
    const ahead = Math.max(0, outstanding - capacity + 1);
    const wait = (ahead * (this.attemptMs ?? 0)) / capacity;
    const failure = Math.min(MAX_FAILURE_RATE, this.failureRate);
    return (wait + (this.firstChunkMs ?? referenceMs) + failure * referenceMs) / (1 - failure);
  }
}
