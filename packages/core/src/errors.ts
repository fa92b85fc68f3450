import type { TimeoutPhase } from './types.js';

const brand = Symbol.for('bulwark.error');

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
  /** An option given to a factory or constructor is invalid. */
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

/** Why a retry policy let an error pass instead of retrying it. */
export type NotRetriedReason =
  | 'committed'
  | 'not-retryable'
  | 'max-attempts'
  | 'deadline'
  | 'budget'
  | 'cancelled';

export interface BulwarkErrorOptions {
  code: string;
  retryable?: boolean;
  cause?: unknown;
  /** Output had reached the caller before this error. */
  committed?: boolean;
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
  /** Output had been delivered to the caller when this happened. */
  committed: boolean;
  /** Set by a retry policy that let this error pass: why it did not retry. */
  notRetried?: NotRetriedReason;

  constructor(message: string, options: BulwarkErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, brand, { value: true, enumerable: false });
    this.name = 'BulwarkError';
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    this.committed = options.committed ?? false;
  }

  /** True for any Bulwark error, from this copy of the package or another. */
  static is(value: unknown): value is BulwarkError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

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
  /** Phase `load`: the load the call was waiting on, for the message and {@link TimeoutError.load}. */
  load?: ModelLoadProgress | undefined;
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
export class TimeoutError extends BulwarkError {
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
    super(`Timed out ${what} after ${Math.round(options.timeoutMs)} ms${attemptText}${loadText}`, {
      code: ErrorCode.Timeout,
      retryable: options.retryable ?? options.phase !== 'total',
      cause: options.cause,
      committed: options.committed ?? false,
    });
    this.name = 'BulwarkTimeoutError';
    this.phase = options.phase;
    this.timeoutMs = options.timeoutMs;
    this.elapsedMs = options.elapsedMs;
    this.attempt = options.attempt;
    this.load = load;
  }
}

/** A breaker refused the call without running it. */
export class CircuitOpenError extends BulwarkError {
  readonly key: string;
  /** When the breaker will next let a probe through (clock time), if known. */
  readonly retryAt: number | undefined;
  readonly state: 'open' | 'half-open';

  constructor(options: {
    key: string;
    retryAt?: number | undefined;
    state: 'open' | 'half-open';
    now?: number;
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
    });
    this.name = 'BulwarkCircuitOpenError';
    this.key = options.key;
    this.retryAt = options.retryAt;
    this.state = options.state;
  }
}

/** A bulkhead's running slots and its queue were full. */
export class BulkheadRejectedError extends BulwarkError {
  readonly key: string;
  readonly limit: number;
  readonly queue: number;

  constructor(options: { key: string; limit: number; queue: number }) {
    super(`Bulkhead "${options.key}" is full: ${options.limit} running and ${options.queue} queued`, {
      code: ErrorCode.BulkheadRejected,
      retryable: false,
    });
    this.name = 'BulwarkBulkheadRejectedError';
    this.key = options.key;
    this.limit = options.limit;
    this.queue = options.queue;
  }
}

/** The retry budget refused a retry; `cause` is the error that would have been retried. */
export class RetryBudgetExhaustedError extends BulwarkError {
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
  }
}

/** An option is unknown or has a bad value. Thrown at construction, naming the option and the value. */
export class InvalidOptionError extends BulwarkError {
  readonly option: string;

  constructor(message: string, option: string) {
    super(message, { code: ErrorCode.InvalidOption, retryable: false });
    this.name = 'BulwarkInvalidOptionError';
    this.option = option;
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
  cause?: unknown;
  committed?: boolean;
}

/** The status codes that mean "try again": timeouts, rate limits, overload and gateway failures. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** The server answered with an error status before any output. */
export class ResponseError extends BulwarkError {
  readonly status: number;
  readonly serverMessage: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly model: string | undefined;

  constructor(options: ResponseErrorOptions) {
    const model = options.model ? ` for model "${options.model}"` : '';
    const text = options.serverMessage ? `: ${options.serverMessage}` : '';
    super(`Server answered ${options.status}${model}${text}`, {
      code: ErrorCode.HttpStatus,
      retryable: options.retryable ?? RETRYABLE_STATUSES.has(options.status),
      cause: options.cause,
      committed: options.committed ?? false,
    });
    this.name = 'BulwarkResponseError';
    this.status = options.status;
    this.serverMessage = options.serverMessage;
    this.retryAfterMs = options.retryAfterMs;
    this.model = options.model;
  }
}

/** The connection failed: `refused`, `reset`, or `closed` before the answer was complete. */
export class ConnectionError extends BulwarkError {
  readonly reason: 'refused' | 'reset' | 'closed' | 'other';

  constructor(options: {
    reason: 'refused' | 'reset' | 'closed' | 'other';
    message: string;
    cause?: unknown;
    committed?: boolean;
    retryable?: boolean;
  }) {
    super(options.message, {
      code: ErrorCode.Connection,
      retryable: options.retryable ?? !options.committed,
      cause: options.cause,
      committed: options.committed ?? false,
    });
    this.name = 'BulwarkConnectionError';
    this.reason = options.reason;
  }
}

/** The server reported an error in a stream that had already started (an `{"error"}` line). */
export class StreamError extends BulwarkError {
  readonly serverMessage: string;
  readonly model: string | undefined;

  constructor(options: {
    serverMessage: string;
    model?: string | undefined;
    committed: boolean;
    cause?: unknown;
  }) {
    const model = options.model ? ` of model "${options.model}"` : '';
    super(`The stream${model} failed: ${options.serverMessage}`, {
      code: ErrorCode.StreamError,
      retryable: !options.committed,
      cause: options.cause,
      committed: options.committed,
    });
    this.name = 'BulwarkStreamError';
    this.serverMessage = options.serverMessage;
    this.model = options.model;
  }
}

/** The answer broke the protocol. */
export class ProtocolError extends BulwarkError {
  constructor(message: string, options: { cause?: unknown; committed?: boolean; retryable?: boolean } = {}) {
    super(message, {
      code: ErrorCode.Protocol,
      retryable: options.retryable ?? false,
      cause: options.cause,
      committed: options.committed ?? false,
    });
    this.name = 'BulwarkProtocolError';
  }
}
