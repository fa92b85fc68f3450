import type { IncomingHttpHeaders } from 'node:http';

/** What a model can do, as `/api/show` reports it. Requests that need a missing one get Ollama's 400. */
export type ModelCapability =
  | 'completion'
  | 'tools'
  | 'thinking'
  | 'embedding'
  | 'vision'
  | 'insert'
  | 'audio';

/** A natural answer length in tokens: a fixed count, or an inclusive `[min, max]` range picked per request. */
export type ReplyTokens = number | readonly [number, number];

/**
 * One model the simulator serves. A bare name in {@link OllamaSimOptions.models} is the same as
 * `{ name }`; well-known names (`llama3.2`, `qwen3`, `gemma3`, `nomic-embed-text`, `deepseek-r1`,
 * `mistral`, `phi4`, `all-minilm`) get realistic details and capabilities, any other name a generic
 * completion + tools model.
 */
export interface ModelSpec {
  /** `name` or `name:tag` (`:latest` is implied), optionally `namespace/name:tag`. */
  name: string;
  /** @default inferred from the name (a generic model has `['completion', 'tools']`) */
  capabilities?: readonly ModelCapability[];
  /** `details.family`. @default inferred from the name */
  family?: string;
  /** `details.parameter_size`, e.g. `"3.2B"`. @default inferred from the name */
  parameterSize?: string;
  /** `details.quantization_level`. @default `"Q4_K_M"` (`"F16"` for embedding models) */
  quantizationLevel?: string;
  /** Size on disk in bytes (`/api/tags`, `/api/ps`). @default inferred from the name */
  size?: number;
  /** `sha256` hex digest, 64 characters. @default derived from the name */
  digest?: string;
  /** Trained context length (`model_info`). @default inferred from the name */
  contextLength?: number;
  /** Embedding width: the length of the vectors `/api/embed` returns. @default inferred (768 for embedding models, 3072 otherwise) */
  embeddingLength?: number;
  /** Time to load the model when it is not resident. @default {@link OllamaSimOptions.loadMs} */
  loadMs?: number;
  /** Requests this model runs at once once loaded (`OLLAMA_NUM_PARALLEL`). @default {@link OllamaSimOptions.numParallel} */
  numParallel?: number;
  /** Silent time between getting a slot and the first token. @default {@link OllamaSimOptions.promptEvalMs} */
  promptEvalMs?: number;
  /** Time between two tokens. @default {@link OllamaSimOptions.tokenDelayMs} */
  tokenDelayMs?: number;
  /** Natural answer length in tokens (`num_predict` can cut it short). @default {@link OllamaSimOptions.replyTokens} */
  replyTokens?: ReplyTokens;
  /** `modified_at` in `/api/tags` and `/api/show`. @default a fixed date in 2025 */
  modifiedAt?: string | Date;
  /** `system` in `/api/show` (the system prompt a Modelfile sets). @default "" (not shown) */
  system?: string;
  /** `parser` in `/api/show` (the model's output parser, e.g. `"qwen3"`). @default "" (not shown) */
  parser?: string;
  /** `renderer` in `/api/show` (the model's prompt renderer). @default "" (not shown) */
  renderer?: string;
  /** `requires` in `/api/show`: the minimum Ollama version the model needs, e.g. `"0.12.0"`. @default "" (not shown) */
  requires?: string;
}

/** Options of {@link startOllamaSim}. Unknown keys and bad values throw at once, naming the option. */
export interface OllamaSimOptions {
  /** Interface to listen on: `127.0.0.1`, `::1`, `localhost`, `0.0.0.0`... @default "127.0.0.1" */
  host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** Models served. @default {@link DEFAULT_MODELS}: llama3.2, qwen3, gemma3, nomic-embed-text */
  models?: readonly (string | ModelSpec)[];
  /** Faults applied to matching requests, first match wins. @default [] */
  faults?: readonly Fault[];
  /** Default per-model parallel slots, like `OLLAMA_NUM_PARALLEL`. @default 1 */
  numParallel?: number;
  /** Requests that may wait for a model load (or reload) before new ones get 503, like `OLLAMA_MAX_QUEUE`. @default 512 */
  maxQueue?: number;
  /**
   * Also count requests waiting for a parallel slot against {@link maxQueue}. Ollama itself lets slot
   * waits grow without bound; this makes a 503 reachable on a warm model.
   * @default false
   */
  boundSlotWait?: boolean;
  /** Models resident at once, like `OLLAMA_MAX_LOADED_MODELS`; the idle one expiring first is evicted. @default 3 */
  maxLoadedModels?: number;
  /** How long an idle model stays loaded when the request sets no `keep_alive`, like `OLLAMA_KEEP_ALIVE`; negative = forever. @default 300000 */
  keepAliveMs?: number;
  /** Default time to load a model that is not resident. @default 0 */
  loadMs?: number;
  /** Default silent time between getting a slot and the first token. @default 0 */
  promptEvalMs?: number;
  /** Default time between two tokens; 0 streams as fast as the socket takes it. @default 0 */
  tokenDelayMs?: number;
  /** Default natural answer length in tokens. @default [20, 40] */
  replyTokens?: ReplyTokens;
  /** What `/api/version` answers. @default "0.33.0" */
  version?: string;
  /** Entries kept in {@link OllamaSim.requests}; the oldest are dropped. 0 keeps none. @default 10000 */
  requestLogLimit?: number;
  /**
   * Names `/api/pull` finds in the registry (a name without a tag matches every tag). Pulling any
   * other name fails as Ollama does for a name the registry does not know: `pulling manifest`, then
   * `{"error":"pull model manifest: file does not exist"}` in the stream (500 with `stream: false`).
   * @default {@link KNOWN_MODEL_NAMES}
   */
  pullable?: readonly string[];
}

/** What a {@link Fault} does. Latency fields (`delayMs`, `tokenDelayMs`, `dripBytes`, `gzip`) combine with any kind. */
export type FaultKind =
  /** Answer `status` at once with `{"error": message}` (or `body`), optional `headers` and `retryAfter`. */
  | 'status'
  /** Accept the request and never answer, until the client leaves or the simulator closes. */
  | 'hang'
  /** Destroy the socket with a TCP RST after `afterChunks` lines (0: before any byte). */
  | 'reset'
  /** After `afterChunks` lines, go silent for `stallMs` (omitted: until the client leaves or the simulator closes), then go on. */
  | 'stall'
  /** Write the first half of line number `afterChunks` (0-based), then close the socket without ending the response. */
  | 'close-mid-line'
  /** After `afterChunks` lines, write one line that is not JSON, then go on normally. */
  | 'malformed-line'
  /** After `afterChunks` lines, write `{"error": message}` and end cleanly; at 0 lines, answer `status` (500) with the JSON error, as Ollama does. */
  | 'error-line'
  /**
   * Like `'error-line'`, but on `/v1/*` an explicit OpenAI error event (`data: {"error":{...}}`)
   * instead of the server's empty chunk; on Ollama's routes the same `{"error"}` line.
   */
  | 'error-event'
  /** After `afterChunks` lines, write one valid chunk line of `lineBytes` bytes (default 10 MiB), then go on. */
  | 'oversized-line'
  /** After `afterChunks` lines, start a line and never finish it: bytes flow until the client leaves or the simulator closes. */
  | 'endless-line'
  /** Answer `status` (default 502) with an HTML error page, as a reverse proxy would. */
  | 'html'
  /** Answer 200 with the route's usual headers and an empty body. */
  | 'empty'
  /** Cut the last line (or the whole body) in half and end the response cleanly. */
  | 'truncate'
  /** End the stream cleanly after `afterChunks` lines, without the final `done` line. */
  | 'no-done';

/** What a {@link Fault.when} predicate sees. */
export interface FaultRequest {
  /** 1-based number of this request since the simulator started. */
  readonly index: number;
  readonly method: string;
  /** The path without the query, e.g. `/api/chat`. */
  readonly route: string;
  /** The `model` (or `name`) field of the body, if any. */
  readonly model: string | undefined;
  /** The parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  readonly body: unknown;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A scripted failure for the requests it selects. Selection: every given criterion must match
 * (`route`, `method`, `model`, `when`); then `nth`/`times` choose which of the matching requests get
 * it. Only the first fault (in list order) that applies to a request is used; every fault counts the
 * requests that match it, applied or not.
 *
 * A "chunk" is one NDJSON line (one token on `/api/chat` and `/api/generate`, one progress line on
 * `/api/pull`) or one SSE event on `/v1/*`. With `stream: false` the chunks are still counted as the
 * answer is generated, and the effect hits the single JSON body.
 */
export interface Fault {
  /** A label kept in the request log. */
  name?: string;
  /** The path it applies to: exact string (`"/api/chat"`) or a RegExp tested on the path. @default every route */
  route?: string | RegExp;
  /** HTTP method, case-insensitive. @default every method */
  method?: string;
  /** The model: a name (`llama3.2` also matches `llama3.2:latest`) or a RegExp tested on the name as sent. @default every model */
  model?: string | RegExp;
  /** Apply to the nth matching request only (1-based), or from the nth on when `times` is set. @default 1 */
  nth?: number;
  /** How many matching requests get it, starting at `nth`. @default 1 when `nth` is set, otherwise unlimited */
  times?: number;
  /** A predicate on the request; in-process only (not from the CLI). One that throws does not match. */
  when?: (request: FaultRequest) => boolean;
  /** What happens. Omitted with `status` set means `'status'`; omitted otherwise means only the latency fields apply. */
  kind?: FaultKind;
  /** Wait this long before doing anything (before scheduling, so before any byte). @default 0 */
  delayMs?: number;
  /** Time between tokens for this request, replacing the model's. */
  tokenDelayMs?: number;
  /** Write the response body a few bytes at a time: bytes per write. Set `dripBytes` or `dripIntervalMs` to drip. @default 1 when dripping */
  dripBytes?: number;
  /** Pause between two drip writes. @default 10 when dripping */
  dripIntervalMs?: number;
  /** Send the body gzip-encoded (`Content-Encoding: gzip`), flushed line by line. @default false */
  gzip?: boolean;
  /** Lines written before the effect of `kind` (see each kind). @default 0 */
  afterChunks?: number;
  /** `'stall'`: how long; omitted = until the client leaves or the simulator closes. */
  stallMs?: number;
  /** `'status'` (required), `'html'` (default 502), `'error-line'`/`'error-event'` before any output (default 500). */
  status?: number;
  /** Error text of `'status'`, `'error-line'` and `'error-event'`. @default Ollama's text for the status, or a runner failure */
  message?: string;
  /** `'status'`: the raw body instead of `{"error": message}`; an object is sent as JSON. */
  body?: string | Record<string, unknown>;
  /** `'status'`, `'html'`: extra response headers. */
  headers?: Readonly<Record<string, string>>;
  /** `'status'`, `'html'`: a `Retry-After` header (seconds or an HTTP date). */
  retryAfter?: number | string;
  /** `'oversized-line'`: size of the line in bytes, its newline included. @default 10485760 */
  lineBytes?: number;
}

/** How a request ended, as the request log records it. */
export type RequestOutcome =
  /** Still being handled. */
  | 'pending'
  /** Answered in full with a 2xx status. */
  | 'completed'
  /** Answered with an error status, or a stream ended with an `{"error"}` line. */
  | 'error'
  /** The client closed the connection before the answer was complete. */
  | 'client-closed'
  /** The simulator broke the connection on purpose (a fault). */
  | 'destroyed'
  /** `close()` ended it. */
  | 'sim-closed';

/** One request as the simulator saw it. Entries are live: fields fill in as the request progresses. */
export interface RequestRecord {
  /** 1-based number since the simulator started (not reset by {@link OllamaSim.clearRequests}). */
  readonly id: number;
  readonly method: string;
  /** Path without the query. */
  readonly route: string;
  /** Path with the query, as received. */
  readonly url: string;
  /** The `model` (or `name`) field of the body, as sent. */
  model: string | undefined;
  /** Parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  body: unknown;
  readonly headers: IncomingHttpHeaders;
  /** Status sent, once headers left. */
  status: number | undefined;
  outcome: RequestOutcome;
  /** The fault applied, if any. */
  fault: Fault | undefined;
  /** Lines (or SSE events) written. */
  chunks: number;
  /** The error text sent, before or inside the stream. */
  error: string | undefined;
  /** Epoch milliseconds (fractional) when the request arrived. */
  readonly startedAt: number;
  /** When the status line and headers left. */
  headersAt: number | undefined;
  /** When it ended, whichever way. */
  endedAt: number | undefined;
}

/** Live counters of one model (or of the whole server). */
export interface ModelStats {
  /** Requests for it being handled now, from arrival to the last byte. */
  inFlight: number;
  /** The highest `inFlight` seen since start or {@link OllamaSim.resetStats}. */
  maxInFlight: number;
  /** Requests holding a parallel slot now (prompt evaluation and generation). */
  generating: number;
  /** The highest `generating` seen since start or {@link OllamaSim.resetStats}. */
  maxGenerating: number;
  /** Requests waiting for a parallel slot now. */
  waitingForSlot: number;
  /** Requests in the scheduling queue (waiting for a load) now. */
  queued: number;
  /** Loads started. */
  loads: number;
  /** Requests received. */
  requests: number;
  /** Whether it is resident now (for the whole server: how many are). */
  loaded: boolean | number;
}

/** A chat or generate body, as far as it decides the simulated answer. */
export interface ReplyRequest {
  model?: string;
  /** Chat messages (chat, `/v1/chat/completions`). */
  messages?: readonly { role: string; content?: string | null; [key: string]: unknown }[];
  /** Generate prompt (generate, `/v1/completions`). */
  prompt?: string;
  system?: string;
  suffix?: string;
  options?: { seed?: number; num_predict?: number; [key: string]: unknown };
  think?: boolean | 'high' | 'medium' | 'low' | 'max';
  format?: string | Record<string, unknown>;
  tools?: readonly {
    type?: string;
    function: { name: string; parameters?: unknown; [key: string]: unknown };
  }[];
}

/** A tool call as Ollama sends it in `message.tool_calls`. */
export interface SimulatedToolCall {
  /** `call_` and eight lower-case letters or digits, as the server makes them. */
  id: string;
  function: { index: number; name: string; arguments: Record<string, unknown> };
}

/** Exactly what the simulator generates for a request. */
export interface SimulatedReply {
  /** The assembled content. */
  content: string;
  /** The assembled thinking, when the model thinks. */
  thinking?: string;
  /** Tool calls, when the model calls a tool (content is then empty). */
  toolCalls?: SimulatedToolCall[];
  /** Content pieces in order, one per streamed line. */
  chunks: string[];
  /** Thinking pieces in order, one per streamed line, sent before the content. */
  thinkingChunks: string[];
  /** `stop`, or `length` when `num_predict` cut the answer. */
  doneReason: 'stop' | 'length';
  /** Tokens generated (`eval_count`): thinking + content (+ tool call text). */
  evalCount: number;
  /** Tokens in the prompt (`prompt_eval_count`). */
  promptEvalCount: number;
}

/** The running simulator. */
export interface OllamaSim {
  /** `http://127.0.0.1:PORT` (or `http://[::1]:PORT`). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The request log, oldest first, at most `requestLogLimit` entries. Live: entries update as requests progress. */
  readonly requests: readonly RequestRecord[];
  /** The faults in force. */
  readonly faults: readonly Fault[];
  /** Replaces the faults and resets their counters. Validates like the options. */
  setFaults(faults: readonly Fault[]): void;
  /** Appends one fault (its counter starts at 0). */
  addFault(fault: Fault): void;
  /** Removes every fault. */
  clearFaults(): void;
  /** Counters of one model (by any name that resolves to it), or of the whole server. */
  stats(model?: string): ModelStats;
  /** Sets the `max*` counters to the current values and zeroes `loads` and `requests`. */
  resetStats(): void;
  /** Empties the request log. */
  clearRequests(): void;
  /** Resolves once `count` requests have arrived since start (or the last {@link clearRequests}); rejects after `timeoutMs` (default 5000). */
  waitForRequests(count: number, options?: { timeoutMs?: number }): Promise<void>;
  /** The answer this simulator generates for a chat or generate body (same model table and defaults). */
  simulatedReply(request: ReplyRequest): SimulatedReply;
  /** Model names served, as `/api/tags` lists them. */
  modelNames(): string[];
  /** Unloads every resident model (the next request pays `loadMs` again). */
  unloadAll(): void;
  /** Stops listening and destroys every connection, ending hung and streaming responses at once. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
