import type { GiveUpReason, TimeoutPhase } from './types.js';

const brand = Symbol.for('bulwark.error');

/**
 * Makes the `is()` guard and `Symbol.hasInstance` of one error class from its `Symbol.for` brand, so
 * both work across two installed copies of the package and recognise only that class (and its
 * subclasses, which carry their parent's brand too).
 */
function brandCheck(classBrand: symbol): (value: unknown) => boolean {
  return (value) =>
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[classBrand] === true;
}

function setBrand(target: object, classBrand: symbol): void {
  Object.defineProperty(target, classBrand, { value: true, enumerable: false });
}

/** Every stable error code Bulwark uses. */
export const ErrorCode = {
  /** A timeout budget fired. */
  Timeout: 'ERR_BULWARK_TIMEOUT',
  /** A circuit breaker is open (or half-open with its probes in flight). */
  CircuitOpen: 'ERR_BULWARK_CIRCUIT_OPEN',
  /** A bulkhead's slots and queue are full. */
  BulkheadRejected: 'ERR_BULWARK_BULKHEAD_REJECTED',
  /** The retry budget is spent. */
  RetryBudgetExhausted: 'ERR_BULWARK_RETRY_BUDGET_EXHAUSTED',
  /** An option or argument given to a Bulwark API is invalid (`option` names it). */
  InvalidOption: 'ERR_BULWARK_INVALID_OPTION',
  /** The server answered with an error status. */
  HttpStatus: 'ERR_BULWARK_HTTP_STATUS',
  /** The connection failed: refused, reset, or closed before the answer was complete. */
  Connection: 'ERR_BULWARK_CONNECTION',
  /** The server reported an error inside a stream that had started. */
  StreamError: 'ERR_BULWARK_STREAM_ERROR',
  /** The answer broke the protocol: a malformed or oversized line, a missing final line, a wrong content type. */
  Protocol: 'ERR_BULWARK_PROTOCOL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** @deprecated Use {@link GiveUpReason}: the reason of a `give-up` call event. */
export type NotRetriedReason = GiveUpReason;

export interface BulwarkErrorOptions {
  /** A stable code, `ERR_BULWARK_…`: one of {@link ErrorCode} for Bulwark's own classes. */
  code: string;
  retryable?: boolean;
  cause?: unknown;
  /** Output had reached the caller before this error. */
  committed?: boolean;
  /** The server the error concerns: see {@link BulwarkError.host}. */
  host?: string | undefined;
}

/**
 * The root of every error Bulwark throws. Test with {@link BulwarkError.is}, which works across two
 * installed copies of the package; classify by {@link BulwarkError.code}, never by message text.
 */
export class BulwarkError extends Error {
  declare readonly [brand]: true;
  /** A stable code, `ERR_BULWARK_…`. */
  readonly code: string;
  /** Whether a retry may help. The retry policy reads this and nothing else by default. */
  readonly retryable: boolean;
  /**
   * Output had been delivered to the caller when the error was made, as the code that made it
   * knew. Nothing changes it later: why a call was not retried is the `give-up` call event's
   * `reason` (see `CallEvent`).
   */
  readonly committed: boolean;
  /**
   * The server the failed attempt went to, as an origin (`http://10.0.0.2:11434`, never with
   * credentials): the host that answered, timed out or refused, or whose breaker or bulkhead
   * refused the attempt. With several hosts, the host of that attempt. `undefined` when the error
   * concerns no one server (an invalid option, a whole call's `total` budget).
   */
  readonly host: string | undefined;

  constructor(message: string, options: BulwarkErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    setBrand(this, brand);
    this.name = 'BulwarkError';
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.committed = options.committed ?? false;
    this.host = options.host;
  }

  /**
   * True for any Bulwark error, from this copy of the package or another. It narrows to the union of
   * Bulwark's error classes, so checking `code` narrows further to one class:
   * `BulwarkError.is(e) && e.code === 'ERR_BULWARK_TIMEOUT'` makes `e` a {@link TimeoutError}.
   */
  static is(value: unknown): value is AnyBulwarkError {
    return isBulwarkError(value);
  }

  /** `instanceof` checks the brand, so it works across two installed copies too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isBulwarkError(value);
  }
}

const isBulwarkError = brandCheck(brand);

export interface TimeoutErrorOptions {
  phase: TimeoutPhase;
  timeoutMs: number;
  elapsedMs: number;
  /** 0-based attempt number, when known. */
  attempt?: number | undefined;
  maxAttempts?: number | undefined;
  cause?: unknown;
  committed?: boolean;
  /** Whether retrying may help. @default true (except `total`, which ends the call) */
  retryable?: boolean;
  /** The server (never with credentials) and model, for the message: see {@link targetText}. */
  target?: string | undefined;
  /** Phase `load`: the load the call was waiting on, for the message and {@link TimeoutError.load}. */
  load?: ModelLoadProgress | undefined;
  /** The server the attempt went to: {@link BulwarkError.host}. @default the load's host, if any */
  host?: string | undefined;
}

/** A model load a call stopped waiting for; the load itself goes on. */
export interface ModelLoadProgress {
  readonly model: string;
  readonly host: string;
  /** How long the model had been loading when the wait ended, ms. */
  readonly loadingMs: number;
  /** Whether the load goes on (a caller stopped waiting) or was stopped (the load's own budget). */
  readonly continues: boolean;
}

const phaseText: Record<TimeoutPhase, string> = {
  queue: 'waiting for a bulkhead slot',
  load: 'waiting for the model to load',
  connect: 'connecting',
  headers: 'waiting for response headers',
  'first-token': 'waiting for the first token',
  idle: 'waiting for the next chunk',
  attempt: 'for the attempt to finish',
  total: 'for the call to finish',
};

/** A budget fired. Its `phase` says which one, `timeoutMs` its size. */
const timeoutErrorBrand = Symbol.for('bulwark.error.timeout');
const isTimeoutError = brandCheck(timeoutErrorBrand);

export class TimeoutError extends BulwarkError {
  declare readonly code: typeof ErrorCode.Timeout;
  readonly phase: TimeoutPhase;
  readonly timeoutMs: number;
  readonly elapsedMs: number;
  readonly attempt: number | undefined;
  /** Phase `load`: which model on which host, and how long it had been loading. */
  readonly load: ModelLoadProgress | undefined;

  constructor(options: TimeoutErrorOptions) {
    const attemptText =
      options.attempt === undefined
        ? ''
        : ` (attempt ${options.attempt + 1}${options.maxAttempts === undefined ? '' : ` of ${options.maxAttempts}`})`;
    const load = options.load;
    const what = load
      ? `waiting for model "${load.model}" to load on ${load.host}`
      : phaseText[options.phase];
    const loadText = !load
      ? ''
      : load.continues
        ? `: it has been loading for ${Math.round(load.loadingMs)} ms and the load continues`
        : ': the load was stopped';
    const target = options.target && !load ? `: ${options.target}` : '';
    super(`Timed out ${what} after ${Math.round(options.timeoutMs)} ms${attemptText}${loadText}${target}`, {
      code: ErrorCode.Timeout,
      retryable: options.retryable ?? options.phase !== 'total',
      cause: options.cause,
      committed: options.committed ?? false,
      host: options.host ?? load?.host,
    });
    this.name = 'BulwarkTimeoutError';
    setBrand(this, timeoutErrorBrand);
    this.phase = options.phase;
    this.timeoutMs = options.timeoutMs;
    this.elapsedMs = options.elapsedMs;
    this.attempt = options.attempt;
    this.load = load;
  }

  /** True for a TimeoutError only, from this copy of the package or another. */
  static override is(value: unknown): value is TimeoutError {
    return isTimeoutError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isTimeoutError(value);
  }
}

/** A breaker refused the call without running it; `cause` is the failure that opened it, when known. */
const circuitOpenErrorBrand = Symbol.for('bulwark.error.circuit-open');
const isCircuitOpenError = brandCheck(circuitOpenErrorBrand);

export class CircuitOpenError extends BulwarkError {
  declare readonly code: typeof ErrorCode.CircuitOpen;
  readonly key: string;
  /** When the breaker will next let a probe through (clock time), if known. */
  readonly retryAt: number | undefined;
  readonly state: 'open' | 'half-open';

  constructor(options: {
    key: string;
    retryAt?: number | undefined;
    state: 'open' | 'half-open';
    now?: number;
    /** The failure that opened the breaker, when known. */
    cause?: unknown;
    /** The server of the refused attempt: {@link BulwarkError.host}. */
    host?: string | undefined;
  }) {
    const when =
      options.retryAt === undefined
        ? ''
        : options.now === undefined
          ? ` until ${new Date(options.retryAt).toISOString()}`
          : `; next probe in ${Math.max(0, Math.ceil(options.retryAt - options.now))} ms`;
    const what = options.state === 'open' ? 'is open' : 'is half-open and its probe calls are in flight';
    super(`Circuit breaker "${options.key}" ${what}${when}`, {
      code: ErrorCode.CircuitOpen,
      retryable: false,
      cause: options.cause,
      host: options.host,
    });
    this.name = 'BulwarkCircuitOpenError';
    setBrand(this, circuitOpenErrorBrand);
    this.key = options.key;
    this.retryAt = options.retryAt;
    this.state = options.state;
  }

  /** True for a CircuitOpenError only, from this copy of the package or another. */
  static override is(value: unknown): value is CircuitOpenError {
    return isCircuitOpenError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isCircuitOpenError(value);
  }
}

/** A bulkhead's running slots and its queue were full. */
const bulkheadRejectedErrorBrand = Symbol.for('bulwark.error.bulkhead-rejected');
const isBulkheadRejectedError = brandCheck(bulkheadRejectedErrorBrand);

export class BulkheadRejectedError extends BulwarkError {
  declare readonly code: typeof ErrorCode.BulkheadRejected;
  readonly key: string;
  readonly limit: number;
  readonly queue: number;

  constructor(options: {
    key: string;
    limit: number;
    queue: number;
    /** The server of the refused attempt: {@link BulwarkError.host}. */
    host?: string | undefined;
  }) {
    super(`Bulkhead "${options.key}" is full: ${options.limit} running and ${options.queue} queued`, {
      code: ErrorCode.BulkheadRejected,
      retryable: false,
      host: options.host,
    });
    this.name = 'BulwarkBulkheadRejectedError';
    setBrand(this, bulkheadRejectedErrorBrand);
    this.key = options.key;
    this.limit = options.limit;
    this.queue = options.queue;
  }

  /** True for a BulkheadRejectedError only, from this copy of the package or another. */
  static override is(value: unknown): value is BulkheadRejectedError {
    return isBulkheadRejectedError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isBulkheadRejectedError(value);
  }
}

/** The retry budget refused a retry; `cause` is the error that would have been retried. */
const retryBudgetExhaustedErrorBrand = Symbol.for('bulwark.error.retry-budget-exhausted');
const isRetryBudgetExhaustedError = brandCheck(retryBudgetExhaustedErrorBrand);

export class RetryBudgetExhaustedError extends BulwarkError {
  declare readonly code: typeof ErrorCode.RetryBudgetExhausted;
  constructor(options: { cause: unknown; ratio: number }) {
    super(
      `Retry budget exhausted: retries would exceed ${Math.round(options.ratio * 100)}% of recent calls`,
      {
        code: ErrorCode.RetryBudgetExhausted,
        retryable: false,
        cause: options.cause,
      },
    );
    this.name = 'BulwarkRetryBudgetExhaustedError';
    setBrand(this, retryBudgetExhaustedErrorBrand);
  }

  /** True for a RetryBudgetExhaustedError only, from this copy of the package or another. */
  static override is(value: unknown): value is RetryBudgetExhaustedError {
    return isRetryBudgetExhaustedError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isRetryBudgetExhaustedError(value);
  }
}

/** An option is unknown or has a bad value. Thrown at construction, naming the option and the value. */
const invalidOptionErrorBrand = Symbol.for('bulwark.error.invalid-option');
const isInvalidOptionError = brandCheck(invalidOptionErrorBrand);

export class InvalidOptionError extends BulwarkError {
  declare readonly code: typeof ErrorCode.InvalidOption;
  readonly option: string;

  constructor(message: string, option: string) {
    super(message, { code: ErrorCode.InvalidOption, retryable: false });
    this.name = 'BulwarkInvalidOptionError';
    setBrand(this, invalidOptionErrorBrand);
    this.option = option;
  }

  /** True for a InvalidOptionError only, from this copy of the package or another. */
  static override is(value: unknown): value is InvalidOptionError {
    return isInvalidOptionError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInvalidOptionError(value);
  }
}

export interface ResponseErrorOptions {
  status: number;
  /** The server's own error text, when it sent one. */
  serverMessage?: string | undefined;
  /** Milliseconds the server asked us to wait (from `Retry-After`), if any. */
  retryAfterMs?: number | undefined;
  retryable?: boolean;
  model?: string | undefined;
  /** The server that answered (never with credentials), for the message and {@link BulwarkError.host}. */
  host?: string | undefined;
  cause?: unknown;
  committed?: boolean;
}

/** The status codes that mean "try again": timeouts, rate limits, overload and gateway failures. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** The server answered with an error status before any output. */
const responseErrorBrand = Symbol.for('bulwark.error.response');
const isResponseError = brandCheck(responseErrorBrand);

export class ResponseError extends BulwarkError {
  declare readonly code: typeof ErrorCode.HttpStatus;
  readonly status: number;
  readonly serverMessage: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly model: string | undefined;

  constructor(options: ResponseErrorOptions) {
    const model = options.model ? ` for model "${options.model}"` : '';
    const text = options.serverMessage ? `: ${options.serverMessage}` : '';
    const host = options.host ? ` at ${options.host}` : '';
    super(`Server answered ${options.status}${host}${model}${text}`, {
      code: ErrorCode.HttpStatus,
      retryable: options.retryable ?? RETRYABLE_STATUSES.has(options.status),
      cause: options.cause,
      committed: options.committed ?? false,
      host: options.host,
    });
    this.name = 'BulwarkResponseError';
    setBrand(this, responseErrorBrand);
    this.status = options.status;
    this.serverMessage = options.serverMessage;
    this.retryAfterMs = options.retryAfterMs;
    this.model = options.model;
  }

  /** True for a ResponseError only, from this copy of the package or another. */
  static override is(value: unknown): value is ResponseError {
    return isResponseError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isResponseError(value);
  }
}

/** The connection failed: `refused`, `reset`, or `closed` before the answer was complete. */
const connectionErrorBrand = Symbol.for('bulwark.error.connection');
const isConnectionError = brandCheck(connectionErrorBrand);

export class ConnectionError extends BulwarkError {
  declare readonly code: typeof ErrorCode.Connection;
  readonly reason: 'refused' | 'reset' | 'closed' | 'other';

  constructor(options: {
    reason: 'refused' | 'reset' | 'closed' | 'other';
    message: string;
    cause?: unknown;
    committed?: boolean;
    retryable?: boolean;
    /** The server of the connection: {@link BulwarkError.host}. */
    host?: string | undefined;
  }) {
    super(options.message, {
      code: ErrorCode.Connection,
      retryable: options.retryable ?? !options.committed,
      cause: options.cause,
      committed: options.committed ?? false,
      host: options.host,
    });
    this.name = 'BulwarkConnectionError';
    setBrand(this, connectionErrorBrand);
    this.reason = options.reason;
  }

  /** True for a ConnectionError only, from this copy of the package or another. */
  static override is(value: unknown): value is ConnectionError {
    return isConnectionError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isConnectionError(value);
  }
}

/** The server reported an error in a stream that had already started (an `{"error"}` line). */
const streamErrorBrand = Symbol.for('bulwark.error.stream');
const isStreamError = brandCheck(streamErrorBrand);

export class StreamError extends BulwarkError {
  declare readonly code: typeof ErrorCode.StreamError;
  readonly serverMessage: string;
  readonly model: string | undefined;

  constructor(options: {
    serverMessage: string;
    model?: string | undefined;
    /** The server that sent the stream (never with credentials), for the message and {@link BulwarkError.host}. */
    host?: string | undefined;
    committed: boolean;
    cause?: unknown;
  }) {
    const model = options.model ? ` of model "${options.model}"` : '';
    const host = options.host ? ` from ${options.host}` : '';
    super(`The stream${model}${host} failed: ${options.serverMessage}`, {
      code: ErrorCode.StreamError,
      retryable: !options.committed,
      cause: options.cause,
      committed: options.committed,
      host: options.host,
    });
    this.name = 'BulwarkStreamError';
    setBrand(this, streamErrorBrand);
    this.serverMessage = options.serverMessage;
    this.model = options.model;
  }

  /** True for a StreamError only, from this copy of the package or another. */
  static override is(value: unknown): value is StreamError {
    return isStreamError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isStreamError(value);
  }
}

/** The answer broke the protocol. */
const protocolErrorBrand = Symbol.for('bulwark.error.protocol');
const isProtocolError = brandCheck(protocolErrorBrand);

export class ProtocolError extends BulwarkError {
  declare readonly code: typeof ErrorCode.Protocol;
  constructor(
    message: string,
    options: {
      cause?: unknown;
      committed?: boolean;
      retryable?: boolean;
      /** The server that sent the answer: {@link BulwarkError.host}. */
      host?: string | undefined;
    } = {},
  ) {
    super(message, {
      code: ErrorCode.Protocol,
      retryable: options.retryable ?? false,
      host: options.host,
      cause: options.cause,
      committed: options.committed ?? false,
    });
    this.name = 'BulwarkProtocolError';
    setBrand(this, protocolErrorBrand);
  }

  /** True for a ProtocolError only, from this copy of the package or another. */
  static override is(value: unknown): value is ProtocolError {
    return isProtocolError(value);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isProtocolError(value);
  }
}

/** Every error class Bulwark throws; `code` tells them apart. */
export type AnyBulwarkError =
  | TimeoutError
  | CircuitOpenError
  | BulkheadRejectedError
  | RetryBudgetExhaustedError
  | InvalidOptionError
  | ResponseError
  | ConnectionError
  | StreamError
  | ProtocolError;

/**
 * True for any timeout: a Bulwark {@link TimeoutError} (any phase, from any installed copy) or the
 * `TimeoutError` `DOMException` that a caller's own `AbortSignal.timeout()` rethrows.
 *
 * @example
 * try {
 *   await ollama.chat({ model, messages }, { signal: AbortSignal.timeout(30_000) });
 * } catch (error) {
 *   if (isTimeout(error)) console.error('The model took too long');
 *   else throw error;
 * }
 */
export function isTimeout(value: unknown): value is TimeoutError | DOMException {
  if (TimeoutError.is(value)) return true;
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { name?: unknown }).name === 'TimeoutError' &&
    typeof DOMException === 'function' &&
    value instanceof DOMException
  );
}

/** A context's `host` attribute when it is a non-empty string: what {@link BulwarkError.host} takes. */
export function hostAttribute(attributes: { readonly host?: unknown }): string | undefined {
  const host = attributes.host;
  return typeof host === 'string' && host !== '' ? host : undefined;
}

/**
 * The server and model a transport error names: `http://127.0.0.1:11434, model "llama3.2"`. `host`
 * must already be free of credentials (transports pass the origin they resolved).
 */
export function targetText(host: unknown, model: unknown): string | undefined {
  if (typeof host !== 'string' || host === '') return undefined;
  return typeof model === 'string' && model !== '' ? `${host}, model "${model}"` : host;
}
