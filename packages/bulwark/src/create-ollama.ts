import { type CircuitBreakerOptions, type CircuitBreakerPolicy, circuitBreaker } from '@bulwark/breaker';
import { type BulkheadOptions, type BulkheadPolicy, bulkhead } from '@bulwark/bulkhead';
import { DEFAULT_PHASE_BUDGETS, InvalidOptionError, type Policy, wrap } from '@bulwark/core';
import { anyOf, budget, integer, object, oneOf, validateOptions } from '@bulwark/core/internal';
import {
  DEFAULT_MODEL_STATE,
  type FleetHostOptions,
  type FleetOptions,
  Ollama,
  type OllamaOptions,
} from '@bulwark/ollama';
import { resolveCallTimeout, timeoutNumber } from '@bulwark/ollama/internal';
import { createInstrumentation, type InstrumentOptions } from '@bulwark/otel';
import { type RetryOptions, type RetryPolicy, retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

/**
 * Budgets of `createOllama({ timeout })`. Each is a number of milliseconds from 1 to 2,147,483,647,
 * or `Infinity` for no limit; a key left out (or `undefined`) keeps its default.
 */
export interface TimeoutBudgets {
  /** The whole call: queue, every attempt and the waits between them. @default 600_000 */
  totalMs?: number;
  /** One attempt. @default none (the phase budgets bound it) */
  attemptMs?: number;
  /** DNS + TCP + TLS. @default 10_000 */
  connectMs?: number;
  /** Request sent until headers (prompt evaluation and the first token, once the model is warm). @default 300_000 */
  headersMs?: number;
  /**
   * Attempt start until the first token, once the model is warm: the client loads a cold model
   * first (under `loadMs`), so this budget measures prompt evaluation, not the load.
   * @default 300_000
   */
  firstTokenMs?: number;
  /**
   * A model load the client owns, shared by every caller waiting on it and outliving each caller's
   * deadline (see "Cold starts" in the README).
   * @default 600_000
   */
  loadMs?: number;
  /** Silence between two chunks. @default 60_000 */
  idleMs?: number;
}

/** Options of {@link createOllama}. */
export interface CreateOllamaOptions {
  /** The server. @default `OLLAMA_HOST`, else `http://127.0.0.1:11434` */
  host?: string;
  /**
   * Several servers, routed per call (see "A fleet of hosts"): addresses or `{ host, weight, capacity }`. Not with `host`.
   * @default `OLLAMA_HOSTS` (comma-separated) when `host` is not given
   */
  hosts?: readonly (string | FleetHostOptions)[];
  /** Outlier ejection of the hosts. @default {@link FleetOptions} defaults */
  fleet?: FleetOptions;
  /** Models to try in order when a model's hosts are overloaded, failing or too slow before any output. @default none */
  fallbackModels?: Readonly<Record<string, readonly string[]>>;
  /** Headers for every request; their values never appear in errors or telemetry. */
  headers?: Record<string, string>;
  /**
   * The budgets of each phase, or one number of milliseconds meaning what the Python client's
   * `timeout=` means: the limit on connecting and on each wait for the server (the response's
   * first chunk, and the silence between two chunks), so `connectMs`, `headersMs`, `firstTokenMs`
   * and `idleMs` all take it; `totalMs` keeps its default. A number below 1,000 is refused: it is
   * almost surely seconds typed as milliseconds (`timeout: 30` is 30 ms; write `30_000`).
   * @default {@link DEFAULT_TIMEOUTS}
   */
  timeout?: number | TimeoutBudgets;
  /** Retries after the first attempt (503 busy, resets, timeouts, 5xx). @default 2 */
  maxRetries?: number;
  /** More retry options (backoff, budget…); the attempts come from `maxRetries`. */
  retry?: Omit<RetryOptions, 'maxAttempts'>;
  /** The per-model breaker's options, or `false` for none. @default `{ key: 'model' }` */
  breaker?: false | CircuitBreakerOptions;
  /**
   * The per-model bulkhead's options, or `false` for none.
   * @default `{ key: 'model', limit: 4, queue: 64 }` (limit 4 per host of a fleet)
   */
  bulkhead?: false | BulkheadOptions;
  /** OpenTelemetry spans and metrics (no-ops until an SDK is registered); options or `false`. @default true */
  telemetry?: boolean | InstrumentOptions;
  /** Replaces the whole pipeline (still instrumented unless `telemetry` is `false`). */
  policy?: Policy;
  /** Sockets kept open to the server. @default 128 */
  connections?: number;
  /** Model states and owned loads: their options, or `false` for a server that is not Ollama. @default true */
  modelState?: OllamaOptions['modelState'];
  /**
   * A forward proxy URL, or `false` for none. By default, as the Python client, `HTTP_PROXY` and
   * `HTTPS_PROXY` are honoured except for hosts `NO_PROXY` names.
   * @default the environment's proxy
   */
  proxy?: string | false;
}

/** The recommended pipeline and its parts, to subscribe to their events. */
export interface Pipeline {
  policy: Policy;
  retry: RetryPolicy;
  breaker: CircuitBreakerPolicy | undefined;
  bulkhead: BulkheadPolicy | undefined;
}

/**
 * The budgets `createOllama()` uses when given none: a 10-minute deadline over the whole call, the
 * phase budgets of `DEFAULT_PHASE_BUDGETS` (`@bulwark/core`), and the model load budget of
 * `new Ollama()`.
 */
export const DEFAULT_TIMEOUTS = {
  totalMs: 600_000,
  ...DEFAULT_PHASE_BUDGETS,
  loadMs: DEFAULT_MODEL_STATE.loadMs,
} as const satisfies TimeoutBudgets;

/**
 * A `timeout` without its `loadMs`: the load budget belongs to the client's owned loads, not to a
 * call, so it is checked here and handed to `new Ollama()` on its own.
 */
function callBudgets(value: CreateOllamaOptions['timeout']): CreateOllamaOptions['timeout'] {
  if (typeof value !== 'object' || value === null || !('loadMs' in value)) return value;
  const { loadMs, ...rest } = value;
  validateOptions('createOllama(): option "timeout"', { loadMs }, { loadMs: budget(1) });
  return rest;
}

/**
 * The recommended order, outermost first:
 * 1. `timeout({ totalMs })`: one deadline over everything, backoff waits included;
 * 2. `retry()`: replays what failed before any output reached the caller;
 * 3. `circuitBreaker({ key: 'model' })`: a failing model fails fast without touching the others;
 *    inside retry, so its refusal ends the call instead of being retried;
 * 4. `bulkhead({ key: 'model' })`: caps concurrent generations; inside the breaker, so an open
 *    breaker rejects without queueing, and inside retry, so a backoff wait holds no slot;
 * 5. `timeout({ connectMs, headersMs, firstTokenMs, idleMs, attemptMs })`: the budgets of each attempt.
 */
export function createPipeline(
  options: Omit<
    CreateOllamaOptions,
    | 'host'
    | 'hosts'
    | 'fleet'
    | 'fallbackModels'
    | 'headers'
    | 'policy'
    | 'connections'
    | 'modelState'
    | 'proxy'
  > = {},
  hostCount = 1,
): Pipeline {
  const { totalMs, attemptMs, connectMs, headersMs, firstTokenMs, idleMs } = {
    ...DEFAULT_TIMEOUTS,
    ...resolveCallTimeout('createOllama()', callBudgets(options.timeout)),
  };
  const retryPolicy = retry({ ...options.retry, maxAttempts: (options.maxRetries ?? 2) + 1 });
  const breaker =
    options.breaker === false ? undefined : circuitBreaker({ key: 'model', ...options.breaker });
  const limit =
    options.bulkhead === false
      ? undefined
      : bulkhead({ key: 'model', limit: 4 * hostCount, queue: 64, ...options.bulkhead });
  const policies: Policy[] = [timeout({ totalMs }), retryPolicy];
  if (breaker) policies.push(breaker);
  if (limit) policies.push(limit);
  policies.push(timeout({ attemptMs, connectMs, headersMs, firstTokenMs, idleMs }));
  const policy = withTelemetry(wrap(...policies), options.telemetry);
  return { policy, retry: retryPolicy, breaker, bulkhead: limit };
}

/** `instrument(policy)` from `@bulwark/otel` unless `telemetry` is `false`. */
function withTelemetry(policy: Policy, telemetry: CreateOllamaOptions['telemetry']): Policy {
  if (telemetry === false) return policy;
  return createInstrumentation(telemetry === true || telemetry === undefined ? {} : telemetry)(policy);
}

/**
 * An Ollama client with the recommended pipeline: a total deadline, retries with a budget, a
 * breaker and a bulkhead per model, phase budgets, and telemetry. The one-line equivalent of the
 * Python client's `Client(host, timeout=…)` with resilience added.
 *
 * @example
 * const ollama = createOllama({ host: 'http://127.0.0.1:11434', timeout: { firstTokenMs: 120_000 }, maxRetries: 2 });
 */
export function createOllama(options: CreateOllamaOptions = {}): Ollama {
  validateOptions('createOllama()', options, {
    host: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
    // checked by new Ollama()
    hosts: () => undefined,
    fleet: object,
    fallbackModels: object,
    headers: object,
    timeout: (value) => (typeof value === 'number' ? timeoutNumber(value) : object(value)),
    maxRetries: integer(0),
    retry: object,
    breaker: anyOf(oneOf(false), object),
    bulkhead: anyOf(oneOf(false), object),
    telemetry: anyOf(oneOf(true, false), object),
    policy: object,
    connections: integer(1),
    modelState: anyOf(oneOf(true, false), object),
    // checked by new Ollama()
    proxy: () => undefined,
  });
  resolveCallTimeout('createOllama()', callBudgets(options.timeout));
  if (options.retry !== undefined && 'maxAttempts' in options.retry) {
    throw new InvalidOptionError(
      'createOllama(): option "retry.maxAttempts" is not accepted here; use "maxRetries" (the retries after the first attempt)',
      'retry.maxAttempts',
    );
  }
  if (options.policy !== undefined && typeof options.policy.execute !== 'function') {
    throw new InvalidOptionError('createOllama(): option "policy" must be a Bulwark policy', 'policy');
  }
  const policy =
    options.policy === undefined
      ? createPipeline(options, hostCount(options)).policy
      : withTelemetry(options.policy, options.telemetry);
  return new Ollama({
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
    ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
    ...(options.fallbackModels === undefined ? {} : { fallbackModels: options.fallbackModels }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.connections === undefined ? {} : { connections: options.connections }),
    ...(options.modelState === undefined ? {} : { modelState: options.modelState }),
    loadMs:
      (typeof options.timeout === 'object' ? options.timeout.loadMs : undefined) ?? DEFAULT_TIMEOUTS.loadMs,
    ...(options.proxy === undefined ? {} : { proxy: options.proxy }),
    policy,
  });
}

/** The number of hosts the client will have: `hosts`, else `OLLAMA_HOSTS`, else one. */
function hostCount(options: CreateOllamaOptions): number {
  if (Array.isArray(options.hosts)) return Math.max(1, options.hosts.length);
  if (options.host !== undefined) return 1;
  const fromEnv = (process.env.OLLAMA_HOSTS ?? '').split(',').filter((entry) => entry.trim() !== '');
  return Math.max(1, fromEnv.length);
}
