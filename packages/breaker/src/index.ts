export type { IBreaker } from 'cockatiel';
export { ConsecutiveBreaker, CountBreaker } from 'cockatiel';
export {
  CircuitBreakerPolicy,
  circuitBreaker,
  DEFAULT_CONSECUTIVE_FAILURES,
  DEFAULT_HALF_OPEN_AFTER_MS,
} from './circuit-breaker-policy.js';
export { classifyFailure } from './classify.js';
export type { SamplingBreakerOptions } from './sampling-breaker.js';
export { SamplingWindowBreaker, samplingBreaker } from './sampling-breaker.js';
export type {
  BreakerAdmission,
  BreakerProbe,
  BreakerSnapshot,
  BreakerStatus,
  BreakerStore,
  CircuitBreakerOptions,
  CircuitBreakerStatus,
  CircuitOutcomeEvent,
  CircuitRejectedEvent,
  CircuitState,
  CircuitStateChangeEvent,
  Outcome,
  OutcomeEvent,
  RejectEvent,
  StateChangeEvent,
} from './types.js';
