export { AttemptGuard } from './attempt-guard.js';
export { flushMicrotasks, ManualClock, realClock } from './clock.js';
export type { CockatielLikePolicy } from './cockatiel-adapter.js';
export { fromCockatiel } from './cockatiel-adapter.js';
export { createContext } from './context.js';
export { DEFAULT_CONNECTIONS, DEFAULT_PHASE_BUDGETS } from './defaults.js';
export type {
  AnyBulwarkError,
  BulwarkErrorOptions,
  ModelLoadProgress,
  NotRetriedReason,
  ResponseErrorOptions,
  TimeoutErrorOptions,
} from './errors.js';
export {
  BulkheadRejectedError,
  BulwarkError,
  CircuitOpenError,
  ConnectionError,
  ErrorCode,
  InvalidOptionError,
  isTimeout,
  ProtocolError,
  RETRYABLE_STATUSES,
  ResponseError,
  RetryBudgetExhaustedError,
  StreamError,
  TimeoutError,
  targetText,
} from './errors.js';
export { Emitter } from './events.js';
export { DEFAULT_KEY, LruMap, resolveKey } from './keyed.js';
export { classifyBodyFailure, classifyRequestFailure, isIdempotent, networkCause } from './network-errors.js';
export type { OptionCheck } from './options.js';
export {
  anyOf,
  boolean,
  budget,
  duration,
  func,
  integer,
  keyOption,
  MAX_TIMER_MS,
  numberIn,
  object,
  oneOf,
  string,
  validateOptions,
} from './options.js';
export type { PolicyRun } from './policy.js';
export { BasePolicy, definePolicy, invoke, noop } from './policy.js';
export { parseRetryAfter } from './retry-after.js';
export type { LinkedController } from './signal.js';
export { assertSignal, describe, linkSignal, raceSignal, sleep } from './signal.js';
export type {
  Attributes,
  CallTimeout,
  Clock,
  Context,
  ContextPatch,
  Disposable,
  Event,
  ExecuteOptions,
  KeyOption,
  ModelLoadEndEvent,
  ModelLoadStartEvent,
  ModelLoadWait,
  Operation,
  PhaseBudgets,
  Policy,
  PolicyLimits,
  TimeoutPhase,
  TimerHandle,
} from './types.js';
export type { PipelineLimits } from './wrap.js';
export { pipelineLimits, wrap } from './wrap.js';
