import type { CallEvent, CallTimeout, Clock, Policy } from '@bulwark/core';

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
  /** Images: bytes, base64 text, or the path of a file (read and sent base64). Sent as base64. */
  images?: Array<Uint8Array | string>;
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
  /** Images: bytes, base64 text, or the path of a file (read and sent base64). Sent as base64. */
  images?: Array<Uint8Array | string>;
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
  /**
   * Called with each event of the call's lifecycle, as the policies report it: every attempt's
   * start and end, the commit (the caller received the first chunk), and the give-up with its
   * reason (`max-attempts`, `not-retryable`, `committed`, `deadline`, `budget`, `cancelled`,
   * `outer-deadline`). See `CallEvent` in `@bulwark/core`.
   * @default undefined
   */
  onCallEvent?: (event: CallEvent) => void;
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
  /**
   * Several servers, routed per call by model state and load (see "A fleet of hosts" in the
   * README): addresses, or `{ host, weight, capacity }`. Not with `host`.
   * @default process.env.OLLAMA_HOSTS (comma-separated) when `host` is not given, else one host
   */
  hosts?: readonly (string | FleetHostOptions)[];
  /** Outlier ejection of the hosts. @default {@link FleetOptions} defaults */
  fleet?: FleetOptions;
  /**
   * Models to try, in order, when a chat or generate call to a model fails before any output
   * because its hosts are overloaded (503, a full bulkhead, an open breaker), failing (5xx,
   * connection failures) or too slow (a timeout): `{ 'llama3.1:70b': ['llama3.2:3b'] }`. Each
   * fallback runs as a new call through the policy; the answer's `model` says which one answered.
   * @default none
   */
  fallbackModels?: Readonly<Record<string, readonly string[]>>;
  /**
   * Hedging of chat and generate calls to a model warm on several hosts: when the first chunk is
   * late, the same request goes to a second host where the model is warm; the first to send a chunk
   * wins and the other is aborted at once. One hedge per attempt, never for a model that is loading.
   * @default false
   */
  hedge?: false | HedgeOptions;
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
  /**
   * The budget of a model load the client owns (shared by every caller waiting on it, outliving
   * each caller's own budget). Long enough for a large model on a slow disk: 40 GB read at
   * 100 MB/s takes about 400 s. When it fires the load stops and its waiters fail with a
   * `TimeoutError` of phase `load`.
   * @default 600_000
   */
  loadMs?: number;
  /**
   * Model states and loads owned by the client (see "Cold starts" in the README): options, or
   * `false` to turn the mechanism off (a server that is not Ollama, or a proxy that loads models
   * itself): every call then goes out as it is, and the load happens inside it.
   * @default true
   */
  modelState?: boolean | ModelStateOptions;
  /**
   * Model and host state shared with the other processes of a service (its replicas), e.g.
   * `redisSharedState()` from `@bulwark/redis`: which model is warm or loading on which host, and
   * which hosts are ejected. Before each attempt the client reads it for the call's model and
   * merges it into its own state, so a model another replica loaded is routed as warm, a load
   * another replica runs is waited for instead of repeated, and an ejected host is avoided without
   * failures of this process's own. When the store does not answer, the client goes on with its
   * own state.
   * @default none: each client knows only what it saw itself
   */
  sharedState?: SharedStateStore;
}

/**
 * Where clients share model and host state ({@link OllamaOptions.sharedState}). Durations are
 * milliseconds from now as the store measures them, never clock times: processes do not share a
 * clock. Model names come with their tag (`llama3.2:latest`). A store that cannot answer resolves
 * `undefined` (reads and claims) or quietly does nothing (writes), within its own timeout: the
 * client awaits `read` and `claimLoad` before a call goes on.
 */
export interface SharedStateStore {
  /** What is shared now of `model` (when given) on each of `hosts`, and of their ejections. */
  read(hosts: readonly string[], model: string | undefined): Promise<SharedHostState[] | undefined>;
  /** `model` answered on `host`: warm for `warmMs` more (`Infinity`: until unloaded; 0: cold). */
  setWarm(host: string, model: string, warmMs: number): Promise<void>;
  /**
   * Before loading `model` on `host`: claims the one load of it for `leaseMs` under `id`, unless it
   * is warm there already or another process holds the claim.
   */
  claimLoad(host: string, model: string, id: string, leaseMs: number): Promise<SharedLoadClaim | undefined>;
  /** The load claimed under `id` ended: the claim goes; the model is warm for `warmMs` (0: failed). */
  endLoad(host: string, model: string, id: string, warmMs: number): Promise<void>;
  /** `host` was ejected for `ejectedMs` (0: it is back). */
  setEjected(host: string, ejectedMs: number): Promise<void>;
}

/** One host in what {@link SharedStateStore.read} returns, in the order of the hosts asked. */
export interface SharedHostState {
  readonly host: string;
  /** How long the model stays warm there: 0 when not known warm, `Infinity` until unloaded. */
  readonly warmMs: number;
  /** Whether a process holds the claim to load the model there. */
  readonly loading: boolean;
  /** How long the host stays ejected; 0 when it is not. */
  readonly ejectedMs: number;
}

/** What {@link SharedStateStore.claimLoad} found. */
export type SharedLoadClaim =
  | { readonly state: 'claimed' }
  | { readonly state: 'warm'; readonly warmMs: number }
  | { readonly state: 'loading' };

/** Options of the model states (`modelState` of `new Ollama()`). */
export interface ModelStateOptions {
  /** Models remembered; the least recently used go first (never one that is loading). @default 1_000 */
  maxModels?: number;
  /**
   * How long the server keeps an idle model when a call sets no `keep_alive` (its
   * `OLLAMA_KEEP_ALIVE`). A negative value means forever.
   * @default 300_000
   */
  serverKeepAliveMs?: number;
  /** The clock of states and loads; tests pass a `ManualClock`. @default the real clock */
  clock?: Clock;
}

/** What the client knows of one model on one host ({@link Ollama.modelStates}). */
export interface ModelStatus {
  readonly host: string;
  /** The model's name as first written by a caller (`llama3.2` and `llama3.2:latest` are one model). */
  readonly model: string;
  /**
   * `warm` until `expiresAt`; `loading` while a load the client owns runs (or, with `sharedState`,
   * while another process holds the load's claim, as of the last read); otherwise `cold`.
   */
  readonly state: 'warm' | 'cold' | 'loading';
  /** Clock time the model is expected to unload, while warm (`Infinity`: never). */
  readonly expiresAt: number | undefined;
  /** Clock time the running load started, while the client's own load runs. */
  readonly loadingSince: number | undefined;
  /** How long the last load the client owned took, ms. */
  readonly lastLoadMs: number | undefined;
}

/** Options of {@link Ollama.load}. */
export interface LoadOptions {
  /** How long the server keeps the model once idle: seconds, or a Go duration such as `"30m"`; negative = forever. @default the server's */
  keepAlive?: KeepAlive;
  /** Ends this caller's wait (the load goes on). */
  signal?: AbortSignal;
  /** The host of the fleet to load it on. @default the host routing picks for the model */
  host?: string;
}

/** One host of a fleet (`hosts` of `new Ollama()`), when it needs more than its address. */
export interface FleetHostOptions {
  /** The server, in any form `host` accepts. */
  host: string;
  /** Its share of traffic relative to the others, among hosts equally suited to a call. @default 1 */
  weight?: number;
  /** Requests it runs at once: its `OLLAMA_NUM_PARALLEL`. A warm host with a free slot is preferred. @default 1 */
  capacity?: number;
}

/** Outlier ejection of a fleet (`fleet` of `new Ollama()`), as Envoy's outlier detection. */
export interface FleetOptions {
  /** Connection failures or 5xx answers (not 503) in a row that eject a host. @default 5 */
  consecutiveFailures?: number;
  /** An ejection lasts this long times the number of times the host was ejected. @default 30_000 */
  baseEjectionMs?: number;
  /** The longest ejection. @default 300_000 */
  maxEjectionMs?: number;
  /** The largest share of hosts ejected at once, in percent; one host may always be. @default 10 */
  maxEjectionPercent?: number;
  /**
   * While calls flow, a host's model states older than this are refreshed from its `/api/ps` in the
   * background (one request in flight per host, never to an ejected host), so a model loaded or
   * evicted by someone else counts for routing. `Infinity` turns it off. Needs model states and
   * several hosts.
   * @default 10_000
   */
  psRefreshMs?: number;
  /** The limit on one background `/api/ps` request. @default 2_000 */
  psTimeoutMs?: number;
  /** The clock of ejections; tests pass a `ManualClock`. @default the model states' clock */
  clock?: Clock;
}

/** One host in {@link FleetSnapshot}. */
export interface FleetHostStatus {
  readonly host: string;
  readonly weight: number;
  readonly capacity: number;
  /** Attempts of this client running on it now. */
  readonly outstanding: number;
  /** `ejected` while an ejection lasts; `probing` once it ended, until one call succeeds. */
  readonly state: 'healthy' | 'ejected' | 'probing';
  /** Clock time the ejection ends, while ejected. */
  readonly ejectedUntil: number | undefined;
  /** The ejection multiplier: times ejected, less one per ejection time spent healthy since. */
  readonly ejections: number;
  readonly consecutiveFailures: number;
  /** Models known warm on it. */
  readonly warmModels: readonly string[];
  /** Models the client is loading on it (with `sharedState`, or another process is). */
  readonly loadingModels: readonly string[];
}

/** The state of a client's hosts ({@link Ollama.fleet}). */
export interface FleetSnapshot {
  readonly hosts: readonly FleetHostStatus[];
  /** Hosts ejected or awaiting their probe. */
  readonly ejected: number;
  /** Attempts running on every host. */
  readonly outstanding: number;
  /** Attempts that hedging considered (the model warm on their host) and hedges sent. */
  readonly hedges: { readonly attempts: number; readonly hedges: number };
}

/** Hedging (`hedge` of `new Ollama()`): a second host races a call that is slow to its first chunk. */
export interface HedgeOptions {
  /**
   * Send the hedge when no chunk arrived this long after the attempt started. Without it, the
   * delay is the `percentile` of the model's recent times to first chunk (no hedge until
   * `minSamples` were seen).
   * @default learned
   */
  delayMs?: number;
  /** The percentile of recent times to first chunk used as the delay, 1 to 100. @default 95 */
  percentile?: number;
  /** Times to first chunk of a model seen before a learned delay applies. @default 20 */
  minSamples?: number;
  /** The largest share of attempts that may be hedged, 0 to 1. @default 0.1 */
  maxShare?: number;
}
