import {
  BulkheadRejectedError,
  BulwarkError,
  CircuitOpenError,
  ConnectionError,
  InvalidOptionError,
  ResponseError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from '@bulwark/core';

/** The fallback chains, checked: every key and entry a non-empty string, no model twice in a chain. */
export function checkFallbackModels(value: unknown): ReadonlyMap<string, readonly string[]> {
  const chains = new Map<string, readonly string[]>();
  if (value === undefined) return chains;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(
      'new Ollama(): option "fallbackModels" must be an object of model → array of models',
      'fallbackModels',
    );
  }
  for (const [model, list] of Object.entries(value)) {
    const where = `fallbackModels[${JSON.stringify(model)}]`;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((entry) => typeof entry !== 'string' || entry === '')
    ) {
      throw new InvalidOptionError(
        `new Ollama(): option "${where}" must be a non-empty array of model names`,
        where,
      );
    }
    if (new Set([model, ...list]).size !== list.length + 1) {
      throw new InvalidOptionError(`new Ollama(): option "${where}" names a model twice`, where);
    }
    chains.set(model, Object.freeze([...list]));
  }
  return chains;
}

/**
 * Whether a failed call moves on to the next model of its chain: the model's hosts were
 * overloaded (503, a full bulkhead, an open breaker), failing (5xx, connection failures) or timed
 * out, and no output had reached the caller. Never a caller's cancel or a bad request.
 */
export function fallsBack(error: unknown, callerSignal: AbortSignal | undefined): boolean {
  if (callerSignal?.aborted || !BulwarkError.is(error) || error.committed) return false;
  // the retry budget refused to retry this failure: judge the failure itself
  if (error instanceof RetryBudgetExhaustedError) return fallsBack(error.cause, callerSignal);
  if (error instanceof ResponseError) return error.status >= 500;
  return (
    error instanceof ConnectionError ||
    error instanceof TimeoutError ||
    error instanceof BulkheadRejectedError ||
    error instanceof CircuitOpenError
  );
}
