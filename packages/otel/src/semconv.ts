/**
 * Every attribute, span, event and metric name this package emits, with where it comes from.
 *
 * Sources:
 * - `v1.41.1`: open-telemetry/semantic-conventions at tag v1.41.1 (the last release holding the
 *   GenAI conventions): docs/gen-ai/gen-ai-spans.md, gen-ai-metrics.md, gen-ai-exceptions.md,
 *   docs/registry/attributes/gen-ai.md. Emitted by default.
 * - `genai-main`: open-telemetry/semantic-conventions-genai, unreleased (status: development), read
 *   from docs/gen-ai/client-inference.md (commit 024a4f9), client-embeddings.md (commit 88eccb1) and
 *   gen-ai-token-metrics.md (commit 066d4a7). Emitted when `OTEL_SEMCONV_STABILITY_OPT_IN` contains
 *   `gen_ai_latest_experimental` or the `semconv` option says `'latest'` / `'both'`. Span attribute
 *   names did not change between the two for what Ollama reports; metric names did.
 * - `stable`: general conventions, stable since before v1.26 (`error.type`, `server.*`,
 *   `exception.*`, `http.request.resend_count`).
 * - `bulwark`: ours. No convention exists for retries, breakers, timeouts or bulkheads
 *   (semantic-conventions issue #2355 is open), so these live under `bulwark.`.
 */

// ---------------------------------------------------------------------------------------------
// General attributes (stable)

export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_EXCEPTION_TYPE = 'exception.type';
export const ATTR_EXCEPTION_MESSAGE = 'exception.message';
export const ATTR_EXCEPTION_STACKTRACE = 'exception.stacktrace';
/** `stable`: the ordinal of an HTTP resend, from 1 on. */
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';

/** `stable`: the fallback `error.type` value. */
export const ERROR_TYPE_OTHER = '_OTHER';

// ---------------------------------------------------------------------------------------------
// GenAI attributes (v1.41.1 unless marked; same names in genai-main)

/** `v1.41.1` Required. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** `v1.41.1` Required. Replaces the deprecated `gen_ai.system`. */
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
/** `v1.41.1` (double in v1.41.1, int in genai-main) */
export const ATTR_GEN_AI_REQUEST_TOP_K = 'gen_ai.request.top_k';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
export const ATTR_GEN_AI_REQUEST_STOP_SEQUENCES = 'gen_ai.request.stop_sequences';
export const ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY = 'gen_ai.request.frequency_penalty';
export const ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY = 'gen_ai.request.presence_penalty';
/** `v1.41.1`: set (true) if and only if the request streams. */
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
/** `v1.41.1`: `text`, `json`, `image`, `speech`. */
export const ATTR_GEN_AI_OUTPUT_TYPE = 'gen_ai.output.type';
/** `v1.41.1`: embeddings span. */
export const ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT = 'gen_ai.embeddings.dimension.count';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** `v1.41.1`: seconds. Set for every call that received a chunk, streamed or not. */
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
/** `v1.41.1`: `input`, `output` on `gen_ai.client.token.usage`. */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
/** `genai-main`: `text`, `image`, `audio`, `unknown` on the usage counters. */
export const ATTR_GEN_AI_TOKEN_MODALITY = 'gen_ai.token.modality';
/** `v1.41.1` Opt-In: the chat history, JSON per gen-ai-input-messages.json. */
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
/** `v1.41.1` Opt-In: JSON per gen-ai-output-messages.json. */
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
/** `v1.41.1` Opt-In: JSON per gen-ai-system-instructions.json. */
export const ATTR_GEN_AI_SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions';

/** `v1.41.1` well-known `gen_ai.operation.name` values we use. */
export const GEN_AI_OPERATION_CHAT = 'chat';
export const GEN_AI_OPERATION_TEXT_COMPLETION = 'text_completion';
export const GEN_AI_OPERATION_EMBEDDINGS = 'embeddings';
export const GEN_AI_OPERATION_GENERATE_CONTENT = 'generate_content';

/** Not a well-known value in either source (none exists for Ollama); a custom value is allowed. */
export const GEN_AI_PROVIDER_OLLAMA = 'ollama';

/** `v1.41.1`: the log event for a failed GenAI client operation; severity WARN (13). */
export const EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION = 'gen_ai.client.operation.exception';

// ---------------------------------------------------------------------------------------------
// GenAI metrics

/** `v1.41.1` histogram, s. */
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
/** `v1.41.1` histogram, {token}, with `gen_ai.token.type`. */
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
/**
 * `v1.41.1` histogram, s. The convention scopes it to streams; Bulwark always streams from the
 * server and assembles non-streamed answers itself, so it is recorded for every call that received
 * a chunk, streamed or not.
 */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.operation.time_to_first_chunk';
/**
 * `v1.41.1` histogram, s, streams only. The convention records one point per chunk after the first;
 * we record one point per stream, (stream end - first chunk) / (output tokens - 1), because the
 * transport does not report chunks one by one (and it is cheaper). Can be switched off.
 */
export const METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK =
  'gen_ai.client.operation.time_per_output_chunk';

/** `genai-main` histogram, s: chat and text completion (takes over from operation.duration). */
export const METRIC_GEN_AI_CLIENT_INFERENCE_DURATION = 'gen_ai.client.inference.duration';
/** `genai-main` histogram, s: as the v1.41.1 one, every call that received a chunk. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK =
  'gen_ai.client.inference.time_to_first_chunk';
/** `genai-main` histogram, s, streams only. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK =
  'gen_ai.client.inference.time_per_output_chunk';
/** `genai-main` counter, {token}, with `gen_ai.token.modality`. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS = 'gen_ai.client.inference.usage.input_tokens';
/** `genai-main` counter, {token}, with `gen_ai.token.modality`. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS =
  'gen_ai.client.inference.usage.output_tokens';
/** `genai-main` histogram, {token}, per operation. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS =
  'gen_ai.client.inference.operation.input_tokens';
/** `genai-main` histogram, {token}, per operation. */
export const METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS =
  'gen_ai.client.inference.operation.output_tokens';
/** `genai-main` histogram, s: embeddings. */
export const METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION = 'gen_ai.client.embeddings.duration';
/** `genai-main` histogram, {token}: embeddings input. */
export const METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS =
  'gen_ai.client.embeddings.operation.input_tokens';

/**
 * `bulwark` bucket advice for call, attempt, queue and load durations, in seconds. Not the
 * conventions' advice (0.01 s to 81.92 s, doubling), which puts every call past 82 s in `+Inf`
 * while first-token and total budgets run to 300 s and 600 s: these reach 900 s, with steps of
 * 1 to 15 s between 1 and 60 s, where most LLM calls land.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600,
  900,
];
/** `bulwark` bucket advice for time per output chunk, in seconds: 1 ms to 5 s. */
export const CHUNK_BUCKETS: readonly number[] = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5,
];
/** `bulwark` bucket advice for per-call counts (attempts, timeouts): `le="0"` counts calls with none. */
export const COUNT_BUCKETS: readonly number[] = [0, 1, 2, 3, 4, 5, 7, 10];
/** `v1.41.1` and `genai-main` bucket advice for token counts: powers of 4 from 1. */
export const TOKEN_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

// ---------------------------------------------------------------------------------------------
// Ours (bulwark)

/** `bulwark`: the span of one attempt, INTERNAL, child of the operation span. */
export const SPAN_BULWARK_ATTEMPT = 'bulwark.attempt';
/** `bulwark`: span name prefix of Ollama operations without a GenAI convention (`bulwark.ollama.pull`). */
export const SPAN_BULWARK_OLLAMA_PREFIX = 'bulwark.ollama.';
/** `bulwark`: span name of a generic call without an `operation` attribute. */
export const SPAN_BULWARK_CALL = 'bulwark.call';

/** `bulwark`: 0-based attempt number; the HTTP `http.request.resend_count` equals it from 1 on. */
export const ATTR_BULWARK_ATTEMPT_NUMBER = 'bulwark.attempt.number';
/** `bulwark`: attempts the call made, rejected ones included. */
export const ATTR_BULWARK_ATTEMPT_COUNT = 'bulwark.attempt.count';
/** `bulwark`: seconds from the attempt's start to its first chunk. */
export const ATTR_BULWARK_ATTEMPT_TIME_TO_FIRST_CHUNK = 'bulwark.attempt.time_to_first_chunk';
/** `bulwark`: the call's `operation` attribute, on spans and metrics without GenAI attributes. */
export const ATTR_BULWARK_OPERATION = 'bulwark.operation';
/** `bulwark`: the call's `model` attribute, on spans without GenAI attributes (e.g. `pull`). */
export const ATTR_BULWARK_MODEL = 'bulwark.model';
/** `bulwark`: the instrumented pipeline's name (the `name` option). */
export const ATTR_BULWARK_PIPELINE_NAME = 'bulwark.pipeline.name';
/** `bulwark`: the name of a policy event on `bulwark.events`. */
export const ATTR_BULWARK_EVENT_NAME = 'bulwark.event.name';
/**
 * `bulwark`: `queue`, `load`, `connect`, `headers`, `first-token`, `idle`, `attempt`, `total`: the
 * timeout error's `phase`, spelled as the error spells it, on spans, events and metrics alike.
 */
export const ATTR_BULWARK_TIMEOUT_PHASE = 'bulwark.timeout.phase';
/** `bulwark`: how a call ended: `success`, `timeout`, `error`, `cancelled` (see {@link CallOutcome}). */
export const ATTR_BULWARK_CALL_OUTCOME = 'bulwark.call.outcome';
/** `bulwark`: retries the call made (attempts after the first, rejected ones included). */
export const ATTR_BULWARK_RETRY_COUNT = 'bulwark.retry.count';
/** `bulwark`: timeouts during the call, each timeout error counted once. */
export const ATTR_BULWARK_TIMEOUT_COUNT = 'bulwark.timeout.count';
/**
 * `bulwark`: how a model load ended, on `bulwark.model.load.duration`: `success`, or `error` for a
 * load the client owned that failed (the server's error, a broken connection, its `loadMs` budget).
 */
export const ATTR_BULWARK_MODEL_LOAD_OUTCOME = 'bulwark.model.load.outcome';
/**
 * `bulwark`: where a `bulwark.model.load.duration` point comes from: `client`, a load the client
 * owned (one point per load); `server`, the `load_duration` of an answer (near 0 for a warm model).
 */
export const ATTR_BULWARK_MODEL_LOAD_SOURCE = 'bulwark.model.load.source';
/** `bulwark` values of `bulwark.model.load.source`. */
export const ModelLoadSource = { Client: 'client', Server: 'server' } as const;
/** `bulwark`: how a call's wait on a load ended: `loaded`, `failed`, or `left` (the call stopped waiting). */
export const ATTR_BULWARK_MODEL_LOAD_WAIT_OUTCOME = 'bulwark.model.load.wait.outcome';
/** `bulwark`: seconds the call waited on the load. */
export const ATTR_BULWARK_MODEL_LOAD_WAIT_DURATION = 'bulwark.model.load.wait.duration';
/** `bulwark`: seconds from the load's start to the wait's end: the load's time when it loaded or failed. */
export const ATTR_BULWARK_MODEL_LOAD_ELAPSED = 'bulwark.model.load.elapsed';
/** `bulwark`: the budget that fired, in seconds. */
export const ATTR_BULWARK_TIMEOUT_LIMIT = 'bulwark.timeout.limit';
/** `bulwark`: the backoff before the next attempt, in seconds. */
export const ATTR_BULWARK_RETRY_DELAY = 'bulwark.retry.delay';
/** `bulwark`: why retry stopped (`max-attempts`, `not-retryable`, `deadline`, ...). */
export const ATTR_BULWARK_RETRY_REASON = 'bulwark.retry.reason';
/** `bulwark`: the breaker's key. */
export const ATTR_BULWARK_CIRCUIT_BREAKER_KEY = 'bulwark.circuit_breaker.key';
/** `bulwark`: `closed`, `open`, `half_open`. */
export const ATTR_BULWARK_CIRCUIT_BREAKER_STATE = 'bulwark.circuit_breaker.state';
/** `bulwark`: the state before a change. */
export const ATTR_BULWARK_CIRCUIT_BREAKER_PREVIOUS_STATE = 'bulwark.circuit_breaker.previous_state';
/** `bulwark`: the retry budget's key (`default` when the retry policy is not keyed). */
export const ATTR_BULWARK_RETRY_KEY = 'bulwark.retry.key';
/** `bulwark`: a shared store (`bulkhead`, `breaker`, `retry_budget`, `token_limit`, `shared_state`). */
export const ATTR_BULWARK_STORE_NAME = 'bulwark.store.name';
/** `bulwark`: seconds a store ran on local state before its backend answered again. */
export const ATTR_BULWARK_STORE_UNAVAILABLE_DURATION = 'bulwark.store.unavailable.duration';
/** `bulwark`: a shared store's backend stopped answering; calls go on under local state (or fail). */
export const EVENT_BULWARK_STORE_UNAVAILABLE = 'bulwark.store.unavailable';
/** `bulwark`: a shared store's backend answers again; shared state decides again. */
export const EVENT_BULWARK_STORE_AVAILABLE = 'bulwark.store.available';
/** `bulwark`: the bulkhead's key. */
export const ATTR_BULWARK_BULKHEAD_KEY = 'bulwark.bulkhead.key';
/** `bulwark`: seconds spent waiting for a bulkhead slot. */
export const ATTR_BULWARK_BULKHEAD_QUEUE_DURATION = 'bulwark.bulkhead.queue.duration';
/** `bulwark`: Ollama's `load_duration`, in seconds (nanoseconds on the wire). */
export const ATTR_BULWARK_OLLAMA_LOAD_DURATION = 'bulwark.ollama.load_duration';
/** `bulwark`: Ollama's `prompt_eval_duration`, in seconds. */
export const ATTR_BULWARK_OLLAMA_PROMPT_EVAL_DURATION = 'bulwark.ollama.prompt_eval_duration';
/** `bulwark`: Ollama's `eval_duration`, in seconds. */
export const ATTR_BULWARK_OLLAMA_EVAL_DURATION = 'bulwark.ollama.eval_duration';
/** `bulwark`: Ollama's `total_duration`, in seconds. */
export const ATTR_BULWARK_OLLAMA_TOTAL_DURATION = 'bulwark.ollama.total_duration';

/** `bulwark` span events. */
export const EVENT_BULWARK_RETRY = 'bulwark.retry';
export const EVENT_BULWARK_RETRY_GIVE_UP = 'bulwark.retry.give_up';
export const EVENT_BULWARK_RETRY_BUDGET_EXHAUSTED = 'bulwark.retry.budget_exhausted';
export const EVENT_BULWARK_TIMEOUT = 'bulwark.timeout';
export const EVENT_BULWARK_CIRCUIT_BREAKER_STATE_CHANGE = 'bulwark.circuit_breaker.state_change';
export const EVENT_BULWARK_CIRCUIT_BREAKER_REJECTED = 'bulwark.circuit_breaker.rejected';
export const EVENT_BULWARK_BULKHEAD_QUEUED = 'bulwark.bulkhead.queued';
export const EVENT_BULWARK_BULKHEAD_ACQUIRED = 'bulwark.bulkhead.acquired';
export const EVENT_BULWARK_BULKHEAD_REJECTED = 'bulwark.bulkhead.rejected';
export const EVENT_BULWARK_STREAM_COMMITTED = 'bulwark.stream.committed';
export const EVENT_BULWARK_CANCELLED = 'bulwark.cancelled';
/** `bulwark`: a call's wait on a model load its client owns ended (on the attempt's span). */
export const EVENT_BULWARK_MODEL_LOAD = 'bulwark.model.load';
/** `bulwark`: the log event for a failed call outside the GenAI conventions. */
export const EVENT_BULWARK_OPERATION_EXCEPTION = 'bulwark.operation.exception';

/** `bulwark` values of `bulwark.event.name` on the `bulwark.events` counter. */
export const BulwarkEventName = {
  Retry: 'retry',
  GiveUp: 'give_up',
  Timeout: 'timeout',
  CircuitOpened: 'circuit_opened',
  CircuitHalfOpened: 'circuit_half_opened',
  CircuitClosed: 'circuit_closed',
  CircuitRejected: 'circuit_rejected',
  BulkheadRejected: 'bulkhead_rejected',
  RetryBudgetExhausted: 'retry_budget_exhausted',
  Cancelled: 'cancelled',
  StoreUnavailable: 'store_unavailable',
  StoreAvailable: 'store_available',
} as const;

/** `bulwark` values of `bulwark.call.outcome`. A caller's cancel is `cancelled`, never an error. */
export const CallOutcome = {
  Success: 'success',
  Timeout: 'timeout',
  Error: 'error',
  Cancelled: 'cancelled',
} as const;

/** `bulwark` metrics. */
/** counter, {call}: one point per call, with its outcome, `error.type` and timeout phase. */
export const METRIC_BULWARK_CALLS = 'bulwark.calls';
/** histogram, {attempt}: attempts per call, rejected ones included (retries = sum − count). */
export const METRIC_BULWARK_CALL_ATTEMPTS = 'bulwark.call.attempts';
/** histogram, {timeout}: timeouts per call, each timeout error counted once. */
export const METRIC_BULWARK_CALL_TIMEOUTS = 'bulwark.call.timeouts';
/**
 * histogram, s: model load time, per host and model: one point per load the client owned (from
 * the calls that waited on it), else the final answer's `load_duration`.
 */
export const METRIC_BULWARK_MODEL_LOAD_DURATION = 'bulwark.model.load.duration';
/** histogram, s: one point per attempt, rejected ones included. */
export const METRIC_BULWARK_ATTEMPT_DURATION = 'bulwark.attempt.duration';
/** counter, {event}: policy events by `bulwark.event.name`. */
export const METRIC_BULWARK_EVENTS = 'bulwark.events';
/** histogram, s: one point per call outside the GenAI conventions. */
export const METRIC_BULWARK_PIPELINE_DURATION = 'bulwark.pipeline.duration';
/** observable gauge, 1: one series per state, 1 for the current one. */
export const METRIC_BULWARK_CIRCUIT_BREAKER_STATE = 'bulwark.circuit_breaker.state';
/** observable up-down counter, {request}: calls holding a slot, per key. */
export const METRIC_BULWARK_BULKHEAD_EXECUTING = 'bulwark.bulkhead.executing';
/** observable up-down counter, {request}: calls waiting for a slot, per key. */
export const METRIC_BULWARK_BULKHEAD_QUEUED = 'bulwark.bulkhead.queued';
/** histogram, s: time spent waiting for a slot, per key. */
export const METRIC_BULWARK_BULKHEAD_QUEUE_DURATION = 'bulwark.bulkhead.queue.duration';
/** observable gauge, {retry}: retries the budget still allows, per pipeline. */
export const METRIC_BULWARK_RETRY_BUDGET_REMAINING = 'bulwark.retry.budget.remaining';
