import type {
  BulkheadAcquiredEvent,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  CircuitRejectedEvent,
  CircuitStateChangeEvent,
  ObservablePolicy,
  RetryBudgetExhaustedEvent,
  RetryEvent,
  TimeoutEvent,
} from '@bulwark/core';
import { trace } from '@opentelemetry/api';
import { activeInstruments } from './active-providers.js';
import { activeCallState, callStateOf } from './call-state.js';
import { errorType, withErrorType } from './error-type.js';
import { watchPolicy } from './policy-gauges.js';
import {
  ATTR_BULWARK_ATTEMPT_NUMBER,
  ATTR_BULWARK_BULKHEAD_KEY,
  ATTR_BULWARK_BULKHEAD_QUEUE_DURATION,
  ATTR_BULWARK_CIRCUIT_BREAKER_KEY,
  ATTR_BULWARK_CIRCUIT_BREAKER_PREVIOUS_STATE,
  ATTR_BULWARK_CIRCUIT_BREAKER_STATE,
  ATTR_BULWARK_EVENT_NAME,
  ATTR_BULWARK_PIPELINE_NAME,
  ATTR_BULWARK_RETRY_DELAY,
  ATTR_ERROR_TYPE,
  BulwarkEventName,
  EVENT_BULWARK_BULKHEAD_ACQUIRED,
  EVENT_BULWARK_BULKHEAD_QUEUED,
  EVENT_BULWARK_BULKHEAD_REJECTED,
  EVENT_BULWARK_CIRCUIT_BREAKER_REJECTED,
  EVENT_BULWARK_CIRCUIT_BREAKER_STATE_CHANGE,
  EVENT_BULWARK_RETRY,
  EVENT_BULWARK_RETRY_BUDGET_EXHAUSTED,
  METRIC_BULWARK_BULKHEAD_QUEUE_DURATION,
  METRIC_BULWARK_EVENTS,
} from './semconv.js';

/** `half-open` → `half_open`, the attribute's form. */
const attributeState = (state: string): string => state.replace(/-/g, '_');

const breakerEventNames: Readonly<Record<string, string>> = {
  open: BulwarkEventName.CircuitOpened,
  'half-open': BulwarkEventName.CircuitHalfOpened,
  closed: BulwarkEventName.CircuitClosed,
};

function onRetry({ attempt, delayMs, error, context }: RetryEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(
      EVENT_BULWARK_RETRY,
      withErrorType(
        { [ATTR_BULWARK_ATTEMPT_NUMBER]: attempt, [ATTR_BULWARK_RETRY_DELAY]: delayMs / 1000 },
        error,
      ),
      call.clock.now(),
    );
  call?.countEvent(BulwarkEventName.Retry);
}

function onBudgetExhausted({ attempt, error, context }: RetryBudgetExhaustedEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(
      EVENT_BULWARK_RETRY_BUDGET_EXHAUSTED,
      withErrorType({ [ATTR_BULWARK_ATTEMPT_NUMBER]: attempt }, error),
      call.clock.now(),
    );
  call?.countEvent(BulwarkEventName.RetryBudgetExhausted);
}

function onStateChange({ key, from, to }: CircuitStateChangeEvent): void {
  // Not a per-call event: the call that caused it is the one whose context is active, if any.
  const call = activeCallState();
  const span = call ? call.spanFor() : trace.getActiveSpan();
  if (span?.isRecording())
    span.addEvent(EVENT_BULWARK_CIRCUIT_BREAKER_STATE_CHANGE, {
      [ATTR_BULWARK_CIRCUIT_BREAKER_STATE]: attributeState(to),
      [ATTR_BULWARK_CIRCUIT_BREAKER_PREVIOUS_STATE]: attributeState(from),
      [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key,
    });
  const eventName = breakerEventNames[to] as string;
  const extra = { [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key };
  if (call) call.countEvent(eventName, extra);
  else
    activeInstruments()?.record(METRIC_BULWARK_EVENTS, 1, { [ATTR_BULWARK_EVENT_NAME]: eventName, ...extra });
}

function onBreakerRejected({ key, context }: CircuitRejectedEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(
      EVENT_BULWARK_CIRCUIT_BREAKER_REJECTED,
      { [ATTR_BULWARK_ATTEMPT_NUMBER]: context.attempt, [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key },
      call.clock.now(),
    );
  call?.countEvent(BulwarkEventName.CircuitRejected);
}

function onQueued({ key, context }: BulkheadQueuedEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(EVENT_BULWARK_BULKHEAD_QUEUED, { [ATTR_BULWARK_BULKHEAD_KEY]: key }, call.clock.now());
}

function onAcquired({ key, waitedMs, context }: BulkheadAcquiredEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(
      EVENT_BULWARK_BULKHEAD_ACQUIRED,
      { [ATTR_BULWARK_BULKHEAD_KEY]: key, [ATTR_BULWARK_BULKHEAD_QUEUE_DURATION]: waitedMs / 1000 },
      call.clock.now(),
    );
  call?.instruments?.record(METRIC_BULWARK_BULKHEAD_QUEUE_DURATION, waitedMs / 1000, {
    [ATTR_BULWARK_PIPELINE_NAME]: call.options.name,
    [ATTR_BULWARK_BULKHEAD_KEY]: key,
  });
}

function onBulkheadRejected({ key, error, context }: BulkheadRejectedEvent): void {
  const call = callStateOf(context);
  call
    ?.spanFor()
    ?.addEvent(
      EVENT_BULWARK_BULKHEAD_REJECTED,
      { [ATTR_BULWARK_BULKHEAD_KEY]: key, [ATTR_ERROR_TYPE]: errorType(error) },
      call.clock.now(),
    );
  call?.countEvent(BulwarkEventName.BulkheadRejected);
}

/** `policy` and every policy inside it (`policies` of wrapped policies, recursively), each once. */
export function* nestedPolicies(policy: object, seen = new Set<object>()): Generator<object> {
  if (seen.has(policy)) return;
  seen.add(policy);
  yield policy;
  const inner = (policy as { policies?: unknown }).policies;
  if (!Array.isArray(inner)) return;
  for (const child of inner)
    if (typeof child === 'object' && child !== null) yield* nestedPolicies(child, seen);
}

const subscribed = new WeakSet<object>();

/**
 * Subscribes, once per policy object for the process's life, to the events of `policy` and of
 * every policy inside it, by its kind. The listeners find the call they belong to in the event's
 * context, so one subscription serves every instrumentation sharing the policy and nothing is
 * counted twice.
 */
export function subscribePolicyEvents(root: object, pipelineName: string): void {
  for (const policy of nestedPolicies(root)) {
    const observable = policy as ObservablePolicy;
    if (!['retry', 'timeout', 'circuit-breaker', 'bulkhead'].includes(observable.kind)) continue;
    watchPolicy(observable, pipelineName);
    if (subscribed.has(policy)) continue;
    subscribed.add(policy);
    switch (observable.kind) {
      case 'retry':
        // Its give-up is a lifecycle event: the call record receives it from the context.
        observable.onRetry(onRetry);
        observable.onBudgetExhausted(onBudgetExhausted);
        break;
      case 'timeout':
        observable.onTimeout(({ attempt, error, context }: TimeoutEvent) =>
          callStateOf(context)?.noteTimeout(error, attempt),
        );
        break;
      case 'circuit-breaker':
        observable.onStateChange(onStateChange);
        observable.onRejected(onBreakerRejected);
        break;
      case 'bulkhead':
        observable.onQueued(onQueued);
        observable.onAcquired(onAcquired);
        observable.onRejected(onBulkheadRejected);
        break;
    }
  }
}
