import type { Context, Disposable } from '@bulwark/core';
import { ErrorCode } from '@bulwark/core';
import { type Attributes, trace } from '@opentelemetry/api';
import { activeInstruments } from './active-instruments.js';
import { activeCallState, type CallState, callStateOf } from './call-state.js';
import { errorType, isRejection } from './error-type.js';
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
  ATTR_BULWARK_RETRY_REASON,
  ATTR_ERROR_TYPE,
  BulwarkEventName,
  EVENT_BULWARK_BULKHEAD_ACQUIRED,
  EVENT_BULWARK_BULKHEAD_QUEUED,
  EVENT_BULWARK_BULKHEAD_REJECTED,
  EVENT_BULWARK_CIRCUIT_BREAKER_REJECTED,
  EVENT_BULWARK_CIRCUIT_BREAKER_STATE_CHANGE,
  EVENT_BULWARK_RETRY,
  EVENT_BULWARK_RETRY_BUDGET_EXHAUSTED,
  EVENT_BULWARK_RETRY_GIVE_UP,
  METRIC_BULWARK_BULKHEAD_QUEUE_DURATION,
  METRIC_BULWARK_EVENTS,
} from './semconv.js';

type Fields = Record<string, unknown>;
type Subscribe = (listener: (payload: unknown) => void) => Disposable;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const numberOf = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) ? value : undefined;
const textOf = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** What every per-call event payload may carry; read tolerantly, the policies' shapes may grow. */
interface Read {
  state: CallState | undefined;
  attempt: number | undefined;
  error: unknown;
  key: string | undefined;
  fields: Fields;
}

function read(payload: unknown): Read {
  const fields = isObject(payload) ? payload : {};
  const context = isObject(fields.context) ? (fields.context as unknown as Context) : undefined;
  return {
    state: callStateOf(context),
    attempt: numberOf(fields.attempt) ?? (typeof context?.attempt === 'number' ? context.attempt : undefined),
    error: fields.error ?? (isObject(fields.cause) ? fields.cause : undefined),
    key: textOf(fields.key),
    fields,
  };
}

/** `half-open` → `half_open`, the attribute's form. */
function breakerState(value: unknown): string | undefined {
  const state = textOf(value);
  return state?.replace(/-/g, '_');
}

const breakerEventNames: Readonly<Record<string, string>> = {
  open: BulwarkEventName.CircuitOpened,
  half_open: BulwarkEventName.CircuitHalfOpened,
  closed: BulwarkEventName.CircuitClosed,
};

function onRetry(payload: unknown): void {
  const { state, attempt, error, fields } = read(payload);
  if (!state) return;
  if (isRejection(error)) state.rejectedAttempt(attempt, error);
  state.noteTimeout(error, attempt);
  const span = state.spanFor(undefined);
  if (span) {
    const attributes: Attributes = {};
    if (attempt !== undefined) attributes[ATTR_BULWARK_ATTEMPT_NUMBER] = attempt;
    const delayMs = numberOf(fields.delayMs ?? fields.delay);
    if (delayMs !== undefined) attributes[ATTR_BULWARK_RETRY_DELAY] = delayMs / 1000;
    if (error !== undefined) attributes[ATTR_ERROR_TYPE] = errorType(error);
    span.addEvent(EVENT_BULWARK_RETRY, attributes, state.clock.now());
  }
  state.countEvent(BulwarkEventName.Retry);
}

function onGiveUp(payload: unknown): void {
  const { state, attempt, error, fields } = read(payload);
  // A caller's cancel is not a give-up: the call records it as `bulwark.cancelled`.
  if (!state || fields.reason === 'cancelled' || state.isCancel(error)) return;
  if (isRejection(error)) state.rejectedAttempt(attempt, error);
  const span = state.spanFor(undefined);
  if (span) {
    const attributes: Attributes = {};
    if (attempt !== undefined) attributes[ATTR_BULWARK_ATTEMPT_NUMBER] = attempt;
    if (error !== undefined) attributes[ATTR_ERROR_TYPE] = errorType(error);
    const reason = textOf(fields.reason);
    if (reason !== undefined) attributes[ATTR_BULWARK_RETRY_REASON] = reason;
    span.addEvent(EVENT_BULWARK_RETRY_GIVE_UP, attributes, state.clock.now());
  }
  state.countEvent(BulwarkEventName.GiveUp);
}

function onBudgetExhausted(payload: unknown): void {
  const { state, attempt, error } = read(payload);
  if (!state) return;
  const span = state.spanFor(undefined);
  if (span) {
    const attributes: Attributes = {};
    if (attempt !== undefined) attributes[ATTR_BULWARK_ATTEMPT_NUMBER] = attempt;
    if (error !== undefined) attributes[ATTR_ERROR_TYPE] = errorType(error);
    span.addEvent(EVENT_BULWARK_RETRY_BUDGET_EXHAUSTED, attributes, state.clock.now());
  }
  state.countEvent(BulwarkEventName.RetryBudgetExhausted);
}

function onTimeout(payload: unknown): void {
  const { state, attempt, error } = read(payload);
  state?.noteTimeout(error, attempt);
}

function onStateChange(payload: unknown): void {
  const { state: fromEvent, key, fields } = read(payload);
  // Not a per-call event: the call that caused it is the one whose context is active, if any.
  const call = fromEvent ?? activeCallState();
  const current = breakerState(fields.state ?? fields.to ?? fields.current);
  const previous = breakerState(fields.previous ?? fields.previousState ?? fields.from);
  if (current === undefined) return;
  const attributes: Attributes = { [ATTR_BULWARK_CIRCUIT_BREAKER_STATE]: current };
  if (previous !== undefined) attributes[ATTR_BULWARK_CIRCUIT_BREAKER_PREVIOUS_STATE] = previous;
  if (key !== undefined) attributes[ATTR_BULWARK_CIRCUIT_BREAKER_KEY] = key;
  const span = call ? call.spanFor(undefined) : trace.getActiveSpan();
  if (span?.isRecording()) span.addEvent(EVENT_BULWARK_CIRCUIT_BREAKER_STATE_CHANGE, attributes);
  const eventName = breakerEventNames[current];
  if (eventName === undefined) return;
  const extra = key === undefined ? undefined : { [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key };
  if (call) call.countEvent(eventName, extra);
  else
    activeInstruments()?.record(METRIC_BULWARK_EVENTS, 1, { [ATTR_BULWARK_EVENT_NAME]: eventName, ...extra });
}

function onBreakerReject(payload: unknown): void {
  const { state, attempt, error, key, fields } = read(payload);
  if (!state) return;
  const breakerState = textOf(fields.state) ?? 'open';
  state.rejectedAttempt(attempt, error, {
    type: ErrorCode.CircuitOpen,
    message: `Circuit breaker${key === undefined ? '' : ` "${key}"`} is ${breakerState}`,
  });
  const span = state.spanFor(undefined);
  if (span) {
    const attributes: Attributes = {};
    if (attempt !== undefined) attributes[ATTR_BULWARK_ATTEMPT_NUMBER] = attempt;
    if (key !== undefined) attributes[ATTR_BULWARK_CIRCUIT_BREAKER_KEY] = key;
    span.addEvent(EVENT_BULWARK_CIRCUIT_BREAKER_REJECTED, attributes, state.clock.now());
  }
  state.countEvent(BulwarkEventName.CircuitRejected);
}

function onQueued(payload: unknown): void {
  const { state, key } = read(payload);
  if (!state) return;
  const at = state.clock.now();
  state.queued(key ?? '', at);
  const span = state.spanFor(undefined);
  span?.addEvent(
    EVENT_BULWARK_BULKHEAD_QUEUED,
    key === undefined ? {} : { [ATTR_BULWARK_BULKHEAD_KEY]: key },
    at,
  );
}

function onAcquired(payload: unknown): void {
  const { state, key, fields } = read(payload);
  if (!state) return;
  const at = state.clock.now();
  const waitedMs = numberOf(fields.waitedMs ?? fields.queuedMs) ?? state.dequeued(key ?? '', at) ?? 0;
  const span = state.spanFor(undefined);
  const keyAttributes: Attributes = key === undefined ? {} : { [ATTR_BULWARK_BULKHEAD_KEY]: key };
  span?.addEvent(
    EVENT_BULWARK_BULKHEAD_ACQUIRED,
    { ...keyAttributes, [ATTR_BULWARK_BULKHEAD_QUEUE_DURATION]: waitedMs / 1000 },
    at,
  );
  state.instruments?.record(METRIC_BULWARK_BULKHEAD_QUEUE_DURATION, waitedMs / 1000, {
    [ATTR_BULWARK_PIPELINE_NAME]: state.options.name,
    ...keyAttributes,
  });
}

function onBulkheadRejected(payload: unknown): void {
  const { state, attempt, error, key } = read(payload);
  if (!state) return;
  state.rejectedAttempt(attempt, error, {
    type: error === undefined ? ErrorCode.BulkheadRejected : errorType(error),
    message: `Bulkhead${key === undefined ? '' : ` "${key}"`} is full`,
  });
  const span = state.spanFor(undefined);
  if (span) {
    const attributes: Attributes = {};
    if (key !== undefined) attributes[ATTR_BULWARK_BULKHEAD_KEY] = key;
    attributes[ATTR_ERROR_TYPE] = error === undefined ? ErrorCode.BulkheadRejected : errorType(error);
    span.addEvent(EVENT_BULWARK_BULKHEAD_REJECTED, attributes, state.clock.now());
  }
  state.countEvent(BulwarkEventName.BulkheadRejected);
}

/**
 * The events a policy may expose, by the name of its subscription method. Breakers name theirs
 * `onReject`, bulkheads `onRejected`.
 */
const HANDLERS: ReadonlyArray<readonly [string, (payload: unknown) => void]> = [
  ['onRetry', onRetry],
  ['onGiveUp', onGiveUp],
  ['onBudgetExhausted', onBudgetExhausted],
  ['onTimeout', onTimeout],
  ['onStateChange', onStateChange],
  ['onReject', onBreakerReject],
  ['onQueued', onQueued],
  ['onAcquired', onAcquired],
  ['onRejected', onBulkheadRejected],
];

const subscribed = new WeakSet<object>();

/**
 * Subscribes, once per policy object for the process's life, to the events of `policy` and of
 * every policy inside it (`policies` of wrapped policies, recursively). The listeners find the
 * call they belong to in the event's context, so one subscription serves every instrumentation
 * sharing the policy and nothing is counted twice.
 */
export function subscribePolicyEvents(
  policy: unknown,
  pipelineName: string,
  seen = new Set<unknown>(),
): void {
  if (!isObject(policy) || seen.has(policy)) return;
  seen.add(policy);
  const inner = policy.policies;
  if (Array.isArray(inner)) for (const child of inner) subscribePolicyEvents(child, pipelineName, seen);
  watchPolicy(policy, pipelineName);
  if (subscribed.has(policy)) return;
  subscribed.add(policy);
  for (const [method, handler] of HANDLERS) {
    const subscribe = policy[method];
    if (typeof subscribe !== 'function') continue;
    try {
      (subscribe as Subscribe).call(policy, handler);
    } catch {
      // Not an event subscription after all (a method of the same name with another meaning).
    }
  }
}
