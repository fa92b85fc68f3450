import type { Clock } from '@bulwark/core';

/**
 * Options of `timeout()`. Give `attemptMs` or `totalMs` (not both) to bound what the policy wraps,
 * and any of the phase budgets to hand them to the transport of each attempt beneath it.
 *
 * Every budget is a number of milliseconds from 1 to 2,147,483,647 (the longest a timer holds), or
 * `Infinity` for no limit. A phase budget of `Infinity` switches that phase's limit off for the
 * attempts beneath, the transport's default included.
 */
export interface TimeoutOptions {
  /**
   * Bounds what the policy wraps and names the budget `attempt` in its error (retryable). Use it for
   * a `timeout()` placed inside `retry()`: a limit per attempt.
   * @default undefined (no limit)
   */
  attemptMs?: number;
  /**
   * Bounds what the policy wraps and names the budget `total` in its error (not retryable). Use it
   * for a `timeout()` placed outside `retry()`: one deadline over every attempt and backoff wait.
   * @default undefined (no limit)
   */
  totalMs?: number;
  /**
   * DNS + TCP + TLS, per attempt; enforced by the transport.
   * @default undefined (the transport's own default)
   */
  connectMs?: number;
  /**
   * Request sent until response headers arrive, per attempt; enforced by the transport.
   * @default undefined (the transport's own default)
   */
  headersMs?: number;
  /**
   * Attempt start until the first content, thinking or tool-call chunk; enforced by the transport.
   * @default undefined (the transport's own default)
   */
  firstTokenMs?: number;
  /**
   * Silence between two chunks while the reader waits; enforced by the transport.
   * @default undefined (the transport's own default)
   */
  idleMs?: number;
  /**
   * The clock that times the limit.
   * @default the call's clock (`context.clock`)
   */
  clock?: Clock;
}

/** The payload of `onTimeout`, defined in `@bulwark/core` so telemetry imports types only. */
export type { TimeoutEvent } from '@bulwark/core';
