/*
 * Compiled by `pnpm typecheck`, never run: the event contract between the policies and telemetry
 * is checked by the compiler. Each `@ts-expect-error` fails the build if the line it marks
 * compiles, so a field renamed on one side, or an alias field added back, breaks the build.
 */

import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import type {
  BulkheadAcquiredEvent,
  CallEvent,
  CircuitStateChangeEvent,
  GiveUpReason,
  ObservablePolicy,
  RetryEvent,
  TimeoutEvent,
} from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

// Every policy telemetry subscribes to is an ObservablePolicy of its own kind.
retry() satisfies Extract<ObservablePolicy, { kind: 'retry' }>;
timeout(1_000) satisfies Extract<ObservablePolicy, { kind: 'timeout' }>;
circuitBreaker() satisfies Extract<ObservablePolicy, { kind: 'circuit-breaker' }>;
bulkhead() satisfies Extract<ObservablePolicy, { kind: 'bulkhead' }>;

declare const retried: RetryEvent;
retried.delayMs satisfies number;
// @ts-expect-error one name per field: the wait is `delayMs`, never `delay`
retried.delay;

declare const changed: CircuitStateChangeEvent;
changed.to satisfies 'closed' | 'open' | 'half-open';
// @ts-expect-error the new state is `to`, never `state` or `current`
changed.state;
// @ts-expect-error the new state is `to`, never `state` or `current`
changed.current;

declare const acquired: BulkheadAcquiredEvent;
acquired.waitedMs satisfies number;
// @ts-expect-error the wait is `waitedMs`, never `queuedMs`
acquired.queuedMs;

declare const timedOut: TimeoutEvent;
timedOut.error.phase satisfies string;

// A listener reads the lifecycle through its discriminant; a give-up's reason is a closed set.
declare const event: CallEvent;
if (event.type === 'give-up') {
  event.reason satisfies GiveUpReason;
  // @ts-expect-error a reason outside GiveUpReason is not one
  event.reason === 'gave-up';
}
if (event.type === 'attempt-end') event.outcome satisfies 'success' | 'failure';

// A subscription method of the wrong name does not exist.
// @ts-expect-error a breaker's refusals are `onRejected`, like a bulkhead's
circuitBreaker().onReject2;
