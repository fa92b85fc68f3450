/**
 * The public export list of every package, pinned: adding, renaming or removing an export fails
 * here until this list changes with it, so every change to the surface is a deliberate one (and
 * gets a changeset). Plumbing the packages share lives under `@bulwark/core/internal` and
 * `@bulwark/ollama/internal`, which are not public.
 */
import { describe, expect, it } from 'vitest';

const PUBLIC_EXPORTS: Record<string, readonly string[]> = {
  '@bulwark/breaker': [
    'CircuitBreakerPolicy',
    'ConsecutiveBreaker',
    'CountBreaker',
    'DEFAULT_CONSECUTIVE_FAILURES',
    'DEFAULT_HALF_OPEN_AFTER_MS',
    'SamplingWindowBreaker',
    'circuitBreaker',
    'classifyFailure',
    'samplingBreaker',
  ],
  '@bulwark/bulkhead': ['BulkheadPolicy', 'DEFAULT_LIMIT', 'DEFAULT_QUEUE', 'bulkhead'],
  bulwark: [
    'BasePolicy',
    'BulkheadPolicy',
    'BulkheadRejectedError',
    'BulwarkError',
    'CircuitBreakerPolicy',
    'CircuitOpenError',
    'ConnectionError',
    'ConsecutiveBreaker',
    'CountBreaker',
    'DEFAULT_CONNECTIONS',
    'DEFAULT_PHASE_BUDGETS',
    'DEFAULT_TIMEOUTS',
    'ErrorCode',
    'InvalidOptionError',
    'ManualClock',
    'Ollama',
    'ProgressTracker',
    'ProtocolError',
    'RETRYABLE_STATUSES',
    'ResponseError',
    'RetryBudgetExhaustedError',
    'RetryPolicy',
    'SamplingWindowBreaker',
    'StreamError',
    'TimeoutError',
    'TimeoutPolicy',
    'bulkhead',
    'circuitBreaker',
    'createFetch',
    'createInstrumentation',
    'createOllama',
    'createPipeline',
    'definePolicy',
    'fromCockatiel',
    'instrument',
    'isTimeout',
    'parseRetryAfter',
    'realClock',
    'retry',
    'samplingBreaker',
    'startSpanHook',
    'timeout',
    'trackProgress',
    'wrap',
  ],
  '@bulwark/core': [
    'BasePolicy',
    'BulkheadRejectedError',
    'BulwarkError',
    'CircuitOpenError',
    'ConnectionError',
    'DEFAULT_CONNECTIONS',
    'DEFAULT_PHASE_BUDGETS',
    'Emitter',
    'ErrorCode',
    'InvalidOptionError',
    'ManualClock',
    'ProtocolError',
    'RETRYABLE_STATUSES',
    'ResponseError',
    'RetryBudgetExhaustedError',
    'StreamError',
    'TimeoutError',
    'createContext',
    'definePolicy',
    'flushMicrotasks',
    'fromCockatiel',
    'isTimeout',
    'noop',
    'parseRetryAfter',
    'realClock',
    'wrap',
  ],
  '@bulwark/fetch': ['createFetch'],
  '@bulwark/gateway': ['GATEWAY_DEFAULTS', 'otlpMetricsUrl', 'startGateway'],
  '@bulwark/ollama': ['DEFAULT_HOST', 'DEFAULT_MODEL_STATE', 'Ollama', 'ProgressTracker', 'trackProgress'],
  '@bulwark/ollama-sim': [
    'DEFAULT_MODELS',
    'FAULT_KINDS',
    'KNOWN_MODEL_NAMES',
    'RUNNER_ERROR_MESSAGE',
    'SERVER_BUSY_MESSAGE',
    'SimOptionError',
    'simulatedReply',
    'startOllamaSim',
  ],
  '@bulwark/otel': [
    'createInstrumentation',
    'default',
    'errorType',
    'instrument',
    'instrumentStores',
    'startSpanHook',
  ],
  '@bulwark/rate-limit': [
    'DEFAULT_RESERVATION',
    'DEFAULT_WINDOW_MS',
    'MemoryTokenStore',
    'TOKEN_LIMIT',
    'TokenLimitError',
    'TokenRateLimitPolicy',
    'memoryTokenStore',
    'numPredict',
    'ollamaUsage',
    'tokenRateLimit',
  ],
  '@bulwark/redis': [
    'CLOSED_REUSE_MS',
    'DEFAULT_COMMAND_TIMEOUT_MS',
    'DEFAULT_LEASE_MS',
    'DEFAULT_POLL_MS',
    'DEFAULT_PREFIX',
    'DEFAULT_PROBE_LEASE_MS',
    'DEFAULT_RETRY_UNAVAILABLE_MS',
    'RedisBreakerStore',
    'RedisBulkheadStore',
    'RedisRetryBudgetStore',
    'RedisSharedState',
    'RedisTokenStore',
    'STORE_UNAVAILABLE',
    'StoreUnavailableError',
    'redisBreakerStore',
    'redisBulkheadStore',
    'redisRetryBudgetStore',
    'redisSharedState',
    'redisTokenStore',
  ],
  '@bulwark/retry': [
    'DEFAULT_BUDGET',
    'DEFAULT_INITIAL_DELAY_MS',
    'DEFAULT_MAX_ATTEMPTS',
    'DEFAULT_MAX_DELAY_MS',
    'RetryPolicy',
    'isRetryable',
    'parseRetryAfter',
    'retry',
  ],
  '@bulwark/timeout': ['TimeoutPolicy', 'timeout'],
};

const load: Record<string, () => Promise<object>> = {
  '@bulwark/breaker': () => import('@bulwark/breaker'),
  '@bulwark/bulkhead': () => import('@bulwark/bulkhead'),
  bulwark: () => import('bulwark'),
  '@bulwark/core': () => import('@bulwark/core'),
  '@bulwark/fetch': () => import('@bulwark/fetch'),
  '@bulwark/gateway': () => import('@bulwark/gateway'),
  '@bulwark/ollama': () => import('@bulwark/ollama'),
  '@bulwark/ollama-sim': () => import('@bulwark/ollama-sim'),
  '@bulwark/otel': () => import('@bulwark/otel'),
  '@bulwark/rate-limit': () => import('@bulwark/rate-limit'),
  '@bulwark/redis': () => import('@bulwark/redis'),
  '@bulwark/retry': () => import('@bulwark/retry'),
  '@bulwark/timeout': () => import('@bulwark/timeout'),
};

/** Names that say nothing without their package around them, or are plumbing. */
const NOT_IN_THE_UMBRELLA = [
  'describe',
  'string',
  'object',
  'boolean',
  'integer',
  'duration',
  'budget',
  'sleep',
  'noop',
  'invoke',
  'Emitter',
  'LruMap',
  'AttemptGuard',
  'classifyRequestFailure',
  'networkCause',
  'validateOptions',
  'errorType',
  'classifyFailure',
  'isRetryable',
  'DEFAULT_LIMIT',
  'DEFAULT_QUEUE',
  'DEFAULT_BUDGET',
  'DEFAULT_KEY',
];

describe('the public surface', () => {
  it('covers every package', () => {
    expect(Object.keys(load).sort()).toEqual(Object.keys(PUBLIC_EXPORTS).sort());
  });

  it.each(Object.keys(PUBLIC_EXPORTS))('%s exports exactly its pinned names', async (name) => {
    const module = await (load[name] as () => Promise<object>)();
    expect(Object.keys(module).sort()).toEqual(PUBLIC_EXPORTS[name]);
  });

  it('the umbrella exports no generic names and no plumbing', async () => {
    const umbrella = await import('bulwark');
    for (const name of NOT_IN_THE_UMBRELLA) expect(Object.keys(umbrella), name).not.toContain(name);
  });

  it('the plumbing is reachable only through the internal subpaths', async () => {
    const internal = await import('@bulwark/core/internal');
    const core = await import('@bulwark/core');
    for (const name of ['AttemptGuard', 'LruMap', 'validateOptions', 'sleep', 'serverMessage']) {
      expect(Object.keys(internal), name).toContain(name);
      expect(Object.keys(core), name).not.toContain(name);
    }
    const ollamaInternal = await import('@bulwark/ollama/internal');
    const ollama = await import('@bulwark/ollama');
    for (const name of ['LineReader', 'resolveCallTimeout', 'resolveHost', 'CallRoute', 'SharedState']) {
      expect(Object.keys(ollamaInternal), name).toContain(name);
      expect(Object.keys(ollama), name).not.toContain(name);
    }
  });
});
