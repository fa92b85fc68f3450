import { circuitBreaker, samplingBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { type Policy, wrap } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

/** The budgets of the chaos runs: short, so a hung or stalled call costs about a second, yet with a
 * margin of several times the normal gaps, so a busy machine does not turn healthy calls into timeouts. */
export const BUDGETS = {
  totalMs: 5_000,
  firstTokenMs: 1_000,
  idleMs: 1_000,
  connectMs: 2_000,
  initialDelayMs: 10,
  maxAttempts: 3,
  bulkheadLimit: 8,
} as const;

/**
 * The whole recommended pipeline: a total deadline over retries, a breaker and a bulkhead per
 * model, and the phase budgets for each attempt.
 */
export function chaosPolicy(): Policy {
  return wrap(
    timeout({ totalMs: BUDGETS.totalMs }),
    retry({ maxAttempts: BUDGETS.maxAttempts, initialDelayMs: BUDGETS.initialDelayMs }),
    // About 30% of calls (and more of the attempts) fail on purpose: this breaker opens only when
    // nearly every attempt of a model fails, so it counts every outcome, streams included, without
    // turning the run into a run of refusals. (The default, 5 failures in a row, opens at once.)
    circuitBreaker({
      key: 'model',
      breaker: samplingBreaker({ threshold: 0.95, windowMs: 2_000, minimumCalls: 50 }),
      halfOpenAfterMs: 500,
    }),
    bulkhead({ key: 'model', limit: BUDGETS.bulkheadLimit, queue: 2_000 }),
    timeout({ firstTokenMs: BUDGETS.firstTokenMs, idleMs: BUDGETS.idleMs, connectMs: BUDGETS.connectMs }),
  );
}
