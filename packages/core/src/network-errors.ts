import { ConnectionError, TimeoutError } from './errors.js';

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Whether `method` may be replayed by HTTP semantics. */
export function isIdempotent(method: string, headers: Headers): boolean {
  return IDEMPOTENT_METHODS.has(method) || headers.has('idempotency-key');
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** The innermost cause that carries an error code (undici's `fetch failed` hides it in `cause`). */
export function networkCause(error: unknown): { code: string | undefined; error: unknown } {
  let current = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = errorCode(current);
    if (code) return { code, error: current };
    current = (current as { cause?: unknown }).cause;
  }
  return { code: undefined, error };
}

/**
 * Maps an undici failure before the response to a Bulwark error. `replaySafe` says whether the
 * request may be sent again after it may have reached the server.
 */
export function classifyRequestFailure(
  error: unknown,
  options: {
    replaySafe: boolean;
    connectMs: number;
    elapsedMs: number;
    attempt: number;
    maxAttempts: number | undefined;
    /** The server and model, for the message ({@link targetText}). */
    target?: string | undefined;
    /** The server, for {@link BulwarkError.host}. */
    host?: string | undefined;
  },
): Error {
  const host = options.host;
  const { code, error: cause } = networkCause(error);
  const at = options.target ? `: ${options.target}` : '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new TimeoutError({
        phase: 'connect',
        timeoutMs: options.connectMs,
        elapsedMs: options.elapsedMs,
        attempt: options.attempt,
        maxAttempts: options.maxAttempts,
        cause,
        retryable: true,
        target: options.target,
        host,
      });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectionError({
        reason: code === 'ECONNREFUSED' ? 'refused' : 'other',
        message: `Could not connect (${code})${at}`,
        cause,
        retryable: true,
        host,
      });
    case 'ECONNRESET':
    case 'EPIPE':
      return new ConnectionError({
        reason: 'reset',
        message: `The connection was reset before the response (${code})${at}`,
        cause,
        retryable: options.replaySafe,
        host,
      });
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return new ConnectionError({
        reason: 'closed',
        message: `The server closed the connection before the response${at}`,
        cause,
        retryable: options.replaySafe,
        host,
      });
    default:
      return new ConnectionError({
        reason: 'other',
        message: `The request failed${code ? ` (${code})` : ''}${at}`,
        cause,
        retryable: false,
        host,
      });
  }
}

/** Maps a failure while the body streams. */
export function classifyBodyFailure(
  error: unknown,
  committed: boolean,
  replaySafe: boolean,
  target?: string,
  host?: string,
): Error {
  const { code, error: cause } = networkCause(error);
  return new ConnectionError({
    reason: code === 'ECONNRESET' ? 'reset' : 'closed',
    message: `The response body ended early${code ? ` (${code})` : ''}${target ? `: ${target}` : ''}`,
    cause,
    committed,
    retryable: !committed && replaySafe,
    host,
  });
}
