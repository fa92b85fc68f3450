import type { CallTimeout, Policy } from '@bulwark/core';

/** Model options (`options` of a request), as Ollama's `api.Options`. */
export interface Options {
  numa: boolean;
  num_ctx: number;
  num_batch: number;
  num_gpu: number;
  main_gpu: number;
  low_vram: boolean;
  f16_kv: boolean;
  logits_all: boolean;
  vocab_only: boolean;
  use_mmap: boolean;
  use_mlock: boolean;
  embedding_only: boolean;
  num_thread: number;
  num_keep: number;
  seed: number;
  num_predict: number;
  top_k: number;
  top_p: number;
  min_p: number;
  tfs_z: number;
  typical_p: number;
  repeat_last_n: number;
  temperature: number;
  repeat_penalty: number;
  presence_penalty: number;
  frequency_penalty: number;
  mirostat: number;
  mirostat_tau: number;
  mirostat_eta: number;
  penalize_newline: boolean;
  stop: string[];
}

/** `keep_alive`: seconds, or a Go duration string such as `"5m"`. */
export type KeepAlive = string | number;
export type Think = boolean | 'high' | 'medium' | 'low' | 'max';

export interface ToolCall {
  function: {
    name: string;
    // biome-ignore lint/suspicious/noExplicitAny: tool arguments are free-form JSON, as in the official client
    arguments: { [key: string]: any };
    index?: number;
  };
  id?: string;
}

export interface Tool {
  type: string;
  function: {
    name?: string;
    description?: string;
    type?: string;
    parameters?: {
      type?: string;
      // biome-ignore lint/suspicious/noExplicitAny: JSON Schema fragments
      $defs?: any;
      // biome-ignore lint/suspicious/noExplicitAny: JSON Schema fragments
      items?: any;
      required?: string[];
      properties?: {
        // biome-ignore lint/suspicious/noExplicitAny: JSON Schema fragments
        [key: string]: { type?: string | string[]; items?: any; description?: string; enum?: any[] };
      };
    };
  };
}

export interface Message {
  role: string;
  content: string;
  thinking?: string;
  images?: Uint8Array[] | string[];
  tool_calls?: ToolCall[];
  tool_name?: string;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
}

export interface Logprob extends TokenLogprob {
  top_logprobs?: TokenLogprob[];
}

export interface GenerateRequest {
  model: string;
  prompt: string;
  suffix?: string;
  system?: string;
  template?: string;
  context?: number[];
  stream?: boolean;
  raw?: boolean;
  format?: string | object;
  images?: Uint8Array[] | string[];
  keep_alive?: KeepAlive;
  think?: Think;
  logprobs?: boolean;
  top_logprobs?: number;
  width?: number;
  height?: number;
  steps?: number;
  options?: Partial<Options>;
}

export interface ChatRequest {
  model: string;
  messages?: Message[];
  stream?: boolean;
  format?: string | object;
  keep_alive?: KeepAlive;
  tools?: Tool[];
  think?: Think;
  logprobs?: boolean;
  top_logprobs?: number;
  options?: Partial<Options>;
}

export interface PullRequest {
  model: string;
  insecure?: boolean;
  stream?: boolean;
}

export interface PushRequest {
  model: string;
  insecure?: boolean;
  stream?: boolean;
}

export interface CreateRequest {
  model: string;
  from?: string;
  stream?: boolean;
  quantize?: string;
  template?: string;
  license?: string | string[];
  system?: string;
  parameters?: Record<string, unknown>;
  messages?: Message[];
  adapters?: Record<string, string>;
}

export interface DeleteRequest {
  model: string;
}

export interface CopyRequest {
  source: string;
  destination: string;
}

export interface ShowRequest {
  model: string;
  system?: string;
  template?: string;
  verbose?: boolean;
  options?: Partial<Options>;
}

export interface EmbedRequest {
  model: string;
  input: string | string[];
  truncate?: boolean;
  keep_alive?: KeepAlive;
  dimensions?: number;
  options?: Partial<Options>;
}

export interface EmbeddingsRequest {
  model: string;
  prompt: string;
  keep_alive?: KeepAlive;
  options?: Partial<Options>;
}

/** Timings and counts of the final line. Durations are in nanoseconds. */
export interface Metrics {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

export interface GenerateResponse extends Metrics {
  model: string;
  /** RFC 3339 time, as the server sends it. */
  created_at: string;
  response: string;
  thinking?: string;
  done: boolean;
  done_reason: string;
  context: number[];
  logprobs?: Logprob[];
  image?: string;
  completed?: number;
  total?: number;
}

export interface ChatResponse extends Metrics {
  model: string;
  created_at: string;
  message: Message;
  done: boolean;
  done_reason: string;
  logprobs?: Logprob[];
}

export interface EmbedResponse {
  model: string;
  embeddings: number[][];
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
}

export interface EmbeddingsResponse {
  embedding: number[];
}

export interface ProgressResponse {
  status: string;
  digest: string;
  total: number;
  completed: number;
}

export interface ModelDetails {
  parent_model: string;
  format: string;
  family: string;
  families: string[];
  parameter_size: string;
  quantization_level: string;
}

export interface ModelResponse {
  name: string;
  modified_at: string;
  model: string;
  size: number;
  digest: string;
  details: ModelDetails;
  expires_at: string;
  size_vram: number;
  context_length?: number;
}

export interface ShowResponse {
  license: string;
  modelfile: string;
  parameters: string;
  template: string;
  system: string;
  details: ModelDetails;
  messages: Message[];
  modified_at: string;
  model_info: Record<string, unknown>;
  capabilities: string[];
  projector_info?: Record<string, unknown>;
}

export interface VersionResponse {
  version: string;
}

export interface ListResponse {
  models: ModelResponse[];
}

export interface StatusResponse {
  status: string;
}

/** A streamed answer: iterate it with `for await`; `abort()` (or `break`) stops the request. */
export interface AbortableAsyncIterator<T> extends AsyncIterableIterator<T> {
  abort(): void;
}

/** Per-call options, the second argument of every method. */
export interface CallOptions {
  /** Cancels the call; the call rejects with the signal's own reason. */
  signal?: AbortSignal;
  /**
   * This call's budgets, winning over the client's: an object of budgets by name (`totalMs`,
   * `attemptMs`, `connectMs`, `headersMs`, `firstTokenMs`, `idleMs`; each milliseconds from 1 to
   * 2,147,483,647, or `Infinity` for no limit), or one number of milliseconds (at least 1,000) for
   * `connectMs`, `headersMs`, `firstTokenMs` and `idleMs` at once, as the Python client's `timeout=`.
   * @default undefined (the client's budgets)
   */
  timeout?: number | CallTimeout;
}

/**
 * The budgets a generation call gets, from the call's own `timeout`, the client's policy, the
 * client's options and the defaults, in that order; `Infinity` means no limit.
 */
export interface TimeoutReport {
  /** DNS + TCP + TLS, per attempt. */
  connectMs: number;
  /** Request sent until response headers, per attempt. */
  headersMs: number;
  /** Attempt start until the first content, thinking or tool-call chunk. */
  firstTokenMs: number;
  /** Silence between two chunks while the reader waits (the Python client's read timeout). */
  idleMs: number;
  /** One attempt, start to last byte. */
  attemptMs: number;
  /** The whole call: queue, every attempt and the waits between them. */
  totalMs: number;
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  /** The longest wait between two attempts (backoff or `Retry-After`). */
  maxDelayMs: number;
  /**
   * The longest a call can take against a server that never sends its first chunk: every attempt
   * running to `min(headersMs, firstTokenMs, attemptMs)`, plus `maxDelayMs` between attempts, capped
   * by `totalMs`. Once chunks flow, a stream is bounded by `attemptMs` and `totalMs` (and each
   * silence by `idleMs`).
   */
  worstCaseMs: number;
}

/**
 * Options of `new Ollama()`. Every budget (`…Ms`) is a number of milliseconds from 1 to
 * 2,147,483,647, or `Infinity` for no limit.
 */
export interface OllamaOptions {
  /**
   * The server: `http://host:port`, `host:port` or `host` (http, port 11434), `https://host` (443).
   * @default process.env.OLLAMA_HOST, else `http://127.0.0.1:11434`
   */
  host?: string;
  /** Headers sent with every request (an `Authorization` for a proxy, say). Values never appear in errors. */
  headers?: Record<string, string>;
  /** The policy every call runs through. @default `noop()` */
  policy?: Policy;
  /** Applied once to `policy` (e.g. `instrument` from `@bulwark/otel`). */
  instrument?: (policy: Policy) => Policy;
  /** Sockets kept open to the server. @default 128 */
  connections?: number;
  /**
   * A forward proxy for every request (`http://proxy:3128`; credentials in it go to the proxy
   * only), or `false` for none. By default, as the Python client, `HTTP_PROXY` and `HTTPS_PROXY`
   * (either case) are honoured, except for hosts `NO_PROXY` names.
   * @default the environment's proxy
   */
  proxy?: string | false;
  /** DNS + TCP + TLS, per attempt. A `timeout()` in the policy overrides it. @default 10_000 */
  connectMs?: number;
  /**
   * Request sent until response headers. Ollama sends headers with the first token, after any
   * model load and the prompt evaluation. @default 300_000
   */
  headersMs?: number;
  /** Attempt start until the first content, thinking or tool-call chunk. @default 300_000 */
  firstTokenMs?: number;
  /** Silence between two chunks while the reader waits. @default 60_000 */
  idleMs?: number;
  /** A streamed line longer than this fails with a protocol error. @default 8_000_000 (as Ollama's Go client) */
  maxLineBytes?: number;
}
