// The umbrella re-exports what a user composes a client from, by name: each name says what it
// is without its package around it. Generic names (`noop`, `Emitter`, `errorType`, `DEFAULT_LIMIT`…)
// stay in their own package; the plumbing is in no public entry point.
export type * from '@bulwark/breaker';
export {
  CircuitBreakerPolicy,
  ConsecutiveBreaker,
  CountBreaker,
  circuitBreaker,
  SamplingWindowBreaker,
  samplingBreaker,
} from '@bulwark/breaker';
export type * from '@bulwark/bulkhead';
export { BulkheadPolicy, bulkhead } from '@bulwark/bulkhead';
export type * from '@bulwark/core';
export {
  BasePolicy,
  BulkheadRejectedError,
  BulwarkError,
  CircuitOpenError,
  ConnectionError,
  DEFAULT_CONNECTIONS,
  DEFAULT_PHASE_BUDGETS,
  definePolicy,
  ErrorCode,
  fromCockatiel,
  InvalidOptionError,
  isTimeout,
  ManualClock,
  ProtocolError,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  ResponseError,
  RetryBudgetExhaustedError,
  realClock,
  StreamError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
export type * from '@bulwark/fetch';
export { createFetch } from '@bulwark/fetch';
export type * from '@bulwark/ollama';
export { Ollama, ProgressTracker, trackProgress } from '@bulwark/ollama';
export type * from '@bulwark/otel';
export { createInstrumentation, instrument, startSpanHook } from '@bulwark/otel';
export type * from '@bulwark/retry';
export { RetryPolicy, retry } from '@bulwark/retry';
export type * from '@bulwark/timeout';
export { TimeoutPolicy, timeout } from '@bulwark/timeout';
export type { CreateOllamaOptions, Pipeline, TimeoutBudgets } from './create-ollama.js';
export { createOllama, createPipeline, DEFAULT_TIMEOUTS } from './create-ollama.js';
