import { BulwarkError, type Context, ErrorCode } from '@bulwark/core';
import { cancelOf } from '@bulwark/core/internal';
import type { Outcome } from './types.js';

const OVERLOAD = new Set([429, 503]);

/**
 * How a failed call counts: a caller's cancel, a refusal by another policy, and a client error
 * (4xx but 408 and 429) are ignored; overload (503, 429) is ignored unless `countOverload`;
 * everything else (timeouts, connection failures, 5xx, mid-stream and protocol errors, errors that
 * are not Bulwark's) is a failure.
 */
export function classifyFailure(error: unknown, context: Context, countOverload: boolean): Outcome {
  const cancel = cancelOf(context);
  if (cancel.aborted && error === cancel.reason) {
    return BulwarkError.is(error) &&
      error.code === ErrorCode.Timeout &&
      (error as { phase?: string }).phase !== 'load'
      ? 'failure'
      : 'ignore';
  }
  if (!BulwarkError.is(error)) return 'failure';
  switch (error.code) {
    case ErrorCode.CircuitOpen:
    case ErrorCode.BulkheadRejected:
    case ErrorCode.RetryBudgetExhausted:
    case ErrorCode.InvalidOption:
      return 'ignore';
    case ErrorCode.Timeout: {
      // Waiting for a bulkhead slot or a model load says nothing about the model's health.
      const phase = (error as { phase?: string }).phase;
      return phase === 'queue' || phase === 'load' ? 'ignore' : 'failure';
    }
    case ErrorCode.HttpStatus: {
      const status = (error as { status?: number }).status ?? 0;
      if (OVERLOAD.has(status)) return countOverload ? 'failure' : 'ignore';
      if (status >= 400 && status < 500 && status !== 408) return 'ignore';
      return 'failure';
    }
    default:
      return 'failure';
  }
}
