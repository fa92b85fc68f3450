import type { Clock, Context, KeyOption } from '@bulwark/core';
import type { IBreaker } from 'cockatiel';

/** Where a breaker stands. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** How a call's outcome counts for the breaker. */
export type Outcome = 'success' | 'failure' | 'ignore';

/** Options of `circuitBreaker()`. */
export interface CircuitBreakerOptions {
  /** One breaker per key: `'model'`, `'host'`, `'operation'` or a function of the context. @default one breaker */
  key?: KeyOption;
  /**
   * When to open: any cockatiel `IBreaker`, or a function making one (one per key). An instance is
   * copied for each key.
   * @default () => new ConsecutiveBreaker(5)
   */
  breaker?: IBreaker | (() => IBreaker);
  /** How long the breaker stays open before it lets probes through. @default 30_000 */
  halfOpenAfterMs?: number;
  /** Probe calls let through at once while half-open; every other call is rejected at once. @default 1 */
  halfOpenProbes?: number;
  /**
   * A call slower than this counts as a failure even if it succeeded. For a streamed call the time
   * is to its first chunk (when it committed), so a long healthy stream is not slow.
   * @default no slow-call rule
   */
  slowCallMs?: number;
  /** Whether 503 and 429 (overload, not a broken backend) count as failures. @default false */
  countOverload?: boolean;
  /** Overrides the classification of a failed call. */
  failureOn?: (error: unknown, context: Context) => boolean;
  /** Breakers kept; the least recently used closed one is dropped beyond this. @default 1_000 */
  maxKeys?: number;
  /** The clock of the open period (state shared across calls). @default realClock */
  clock?: Clock;
}

export interface StateChangeEvent {
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** The error that opened it, or why it changed. */
  readonly reason: unknown;
}

export interface RejectEvent {
  readonly key: string;
  readonly state: 'open' | 'half-open';
  readonly context: Context;
}

export interface OutcomeEvent {
  readonly key: string;
  readonly outcome: Outcome;
  readonly durationMs: number;
  readonly error?: unknown;
  readonly context: Context;
}

/** What `getState(key)` reports, for health checks. */
export interface BreakerStatus {
  state: CircuitState;
  /** When an open breaker lets its next probe through (clock time). */
  retryAt: number | undefined;
  /** Probe calls in flight. */
  probes: number;
}

/** A JSON snapshot of every breaker, for `restoreState()`. */
export interface BreakerSnapshot {
  version: 1;
  breakers: Record<string, { state: CircuitState; retryAt?: number; breakerState?: unknown }>;
}
