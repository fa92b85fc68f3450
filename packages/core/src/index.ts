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
} from './errors.js';
export { Emitter } from './events.js';
export type { PolicyRun } from './policy.js';
export { BasePolicy, definePolicy, noop } from './policy.js';
export { parseRetryAfter } from './retry-after.js';
export type {
  AttemptEndEvent,
  AttemptStartEvent,
  Attributes,
  BulkheadAcquiredEvent,
  BulkheadQueuedEvent,
  BulkheadRejectedEvent,
  BulkheadReleasedEvent,
  BulkheadStatus,
  CallEvent,
  CallTimeout,
  CircuitBreakerStatus,
  CircuitOutcomeEvent,
  CircuitRejectedEvent,
  CircuitState,
  CircuitStateChangeEvent,
  Clock,
  CommitEvent,
  Context,
  ContextPatch,
  Disposable,
  Event,
  ExecuteOptions,
  GiveUpEvent,
  GiveUpReason,
  KeyOption,
  ModelLoadEndEvent,
  ModelLoadStartEvent,
  ModelLoadWait,
  ObservablePolicy,
  Operation,
  PhaseBudgets,
  Policy,
  PolicyKind,
  PolicyLimits,
  RetryBudgetExhaustedEvent,
  RetryBudgetStatus,
  RetryEvent,
  RetryGiveUpEvent,
  TimeoutEvent,
  TimeoutPhase,
  TimerHandle,
} from './types.js';
export { wrap } from './wrap.js';
