import { BulwarkError, ErrorCode } from '@bulwark/core';
import type { Attributes } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_OTHER } from './semconv.js';

/**
 * The `error.type` of an error: the HTTP status as a string for a server's error answer (`"503"`),
 * the stable `code` of any other Bulwark error (`ERR_BULWARK_TIMEOUT`, ...), else `_OTHER`.
 */
export function errorType(error: unknown): string {
  if (BulwarkError.is(error)) {
    const status = (error as { status?: unknown }).status;
    if (error.code === ErrorCode.HttpStatus && typeof status === 'number') return String(status);
    const code: unknown = error.code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return ERROR_TYPE_OTHER;
}

/** `attributes` with the `error.type` of `error`, when there is one. */
export function withErrorType(attributes: Attributes, error: unknown): Attributes {
  if (error !== undefined) attributes[ATTR_ERROR_TYPE] = errorType(error);
  return attributes;
}

/** The error a breaker or bulkhead throws when it refuses an attempt before dispatch. */
export function isRejection(error: unknown): boolean {
  if (!BulwarkError.is(error)) return false;
  if (error.code === ErrorCode.CircuitOpen || error.code === ErrorCode.BulkheadRejected) return true;
  return error.code === ErrorCode.Timeout && (error as { phase?: unknown }).phase === 'queue';
}

/** A timeout error's phase, spelled as the error spells it (`first-token`). */
export function timeoutPhase(error: unknown): string | undefined {
  if (!BulwarkError.is(error) || error.code !== ErrorCode.Timeout) return undefined;
  const phase = (error as { phase?: unknown }).phase;
  return typeof phase === 'string' ? phase : undefined;
}

/** A timeout error's budget, in seconds. */
export function timeoutLimitSeconds(error: unknown): number | undefined {
  const timeoutMs = (error as { timeoutMs?: unknown } | undefined)?.timeoutMs;
  return typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) ? timeoutMs / 1000 : undefined;
}
