import type { ServerResponse } from 'node:http';
import { BulwarkError, type CircuitOpenError, ErrorCode, type TimeoutError } from 'bulwark';

/** Which API's error body a route speaks. */
export type Dialect = 'ollama' | 'openai';

export function dialectOf(path: string): Dialect {
  return path.startsWith('/v1/') ? 'openai' : 'ollama';
}

function openaiType(status: number): string {
  if (status === 400 || status === 413) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

/** Ollama's `{"error":"…"}`, or OpenAI's `{"error":{"message","type","param","code"}}` on `/v1`. */
export function errorBody(dialect: Dialect, status: number, message: string): string {
  return dialect === 'openai'
    ? `${JSON.stringify({ error: { message, type: openaiType(status), param: null, code: null } })}\n`
    : JSON.stringify({ error: message });
}

/** Writes an error answer, unless headers already left (then the caller must cut the connection). */
export function sendError(
  response: ServerResponse,
  dialect: Dialect,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const body = errorBody(dialect, status, message);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  response.end(body);
}

/** How the gateway answers a failure that produced no upstream response. */
export interface FailureAnswer {
  status: number;
  message: string;
  /** Bulwark itself refused the call (breaker open, bulkhead full, queue wait, retry budget). */
  shed: 'breaker' | 'bulkhead' | 'queue' | 'retry-budget' | undefined;
  retryAfterSeconds: number | undefined;
}

/** Maps a pipeline failure to a status: 503 with `Retry-After` when Bulwark sheds, 504 on a timeout, else 502. */
export function failureAnswer(error: unknown, now: number = Date.now()): FailureAnswer {
  if (!BulwarkError.is(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: 502, message, shed: undefined, retryAfterSeconds: undefined };
  }
  // Classified by code, which every copy of the package agrees on.
  if (error.code === ErrorCode.CircuitOpen) {
    const { retryAt } = error as CircuitOpenError;
    const waitMs = retryAt === undefined ? 1_000 : retryAt - now;
    return {
      status: 503,
      message: error.message,
      shed: 'breaker',
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1_000)),
    };
  }
  if (error.code === ErrorCode.BulkheadRejected) {
    return { status: 503, message: error.message, shed: 'bulkhead', retryAfterSeconds: 1 };
  }
  if (error.code === ErrorCode.RetryBudgetExhausted) {
    return { status: 503, message: error.message, shed: 'retry-budget', retryAfterSeconds: 1 };
  }
  if (error.code === ErrorCode.Timeout) {
    if ((error as TimeoutError).phase === 'queue') {
      return { status: 503, message: error.message, shed: 'queue', retryAfterSeconds: 1 };
    }
    return { status: 504, message: error.message, shed: undefined, retryAfterSeconds: undefined };
  }
  const message =
    error.code === ErrorCode.Connection ? `upstream unreachable: ${error.message}` : error.message;
  return { status: 502, message, shed: undefined, retryAfterSeconds: undefined };
}
