import type {
  CircuitBreakerStatus,
  CircuitOutcomeEvent,
  CircuitRejectedEvent,
  CircuitState,
  CircuitStateChangeEvent,
  Clock,
  Context,
  KeyOption,
} from '@bulwark/core';
import type { IBreaker } from 'cockatiel';

/** How a call's outcome counts for the breaker. */
export type Outcome = 'success' | 'failure' | 'ignore';

/** Options of `circuitBreaker()`. */
export interface CircuitBreakerOptions {
  /** One breaker per key: `'model'`, `'host'`, `'host+model'`, `'operation'` or a function of the context. @default one breaker */
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
  /**
   * Where the breakers' state lives. With a store (`@bulwark/redis`'s `redisBreakerStore()`), every
   * process sharing it sees one state per key: a breaker opened in one fails fast in all, and
   * half-open admits `halfOpenProbes` probes in all together. Failures are counted in each process
   * by `breaker`; the store holds the state.
   * @default state kept in this process
   */
  store?: BreakerStore;
}

/** A half-open probe slot taken from a {@link BreakerStore}. */
export interface BreakerProbe {
  readonly id: string;
}

/** What a {@link BreakerStore} says of a key before a call. */
export type BreakerAdmission =
  | { readonly state: 'closed' }
  | { readonly state: 'open'; readonly retryAfterMs: number }
  /** `probe` is the slot this call took, or `undefined` when every probe slot is taken. */
  | { readonly state: 'half-open'; readonly probe: BreakerProbe | undefined };

/**
 * Where circuit breakers keep their state, so that one breaker per key holds across processes. The
 * policy asks it before each call and tells it when a breaker opens or a probe ends.
 */
export interface BreakerStore {
  /**
   * Where the breaker of `key` stands; when half-open, takes one of `halfOpenProbes` probe slots if
   * one is free. Resolves `undefined` when the store cannot answer: the policy then decides from its
   * own state in this process. Rejects to fail the call (a store that fails closed).
   */
  admit(key: string, options: { halfOpenProbes: number }): Promise<BreakerAdmission | undefined>;
  /** Opens the breaker of `key` for `halfOpenAfterMs` (failures tripped it, or a probe failed). */
  open(key: string, halfOpenAfterMs: number): Promise<void>;
  /** Closes the breaker of `key`: a probe succeeded. */
  close(key: string): Promise<void>;
  /** Gives a probe slot back without a verdict (the probe's outcome was ignored). */
  releaseProbe(key: string, probe: BreakerProbe): Promise<void>;
}

/** The payloads of this policy's events and its state, defined in `@bulwark/core` so telemetry imports types only. */
export type {
  CircuitBreakerStatus,
  CircuitOutcomeEvent,
  CircuitRejectedEvent,
  CircuitState,
  CircuitStateChangeEvent,
} from '@bulwark/core';

/** @deprecated Use `CircuitStateChangeEvent`. */
export type StateChangeEvent = CircuitStateChangeEvent;
/** @deprecated Use `CircuitRejectedEvent`. */
export type RejectEvent = CircuitRejectedEvent;
/** @deprecated Use `CircuitOutcomeEvent`. */
export type OutcomeEvent = CircuitOutcomeEvent;
/** @deprecated Use `CircuitBreakerStatus`. */
export type BreakerStatus = CircuitBreakerStatus;

/** A JSON snapshot of every breaker, for `restoreState()`. */
export interface BreakerSnapshot {
  version: 1;
  breakers: Record<string, { state: CircuitState; retryAt?: number; breakerState?: unknown }>;
}
