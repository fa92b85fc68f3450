import type { CreateOllamaOptions, FleetOptions } from 'bulwark';

/** Options of {@link startGateway}. Unknown keys and bad values throw an `InvalidOptionError` naming the option. */
export interface GatewayOptions {
  /**
   * The Ollama server the gateway calls, e.g. `http://127.0.0.1:11434`. Give this or `upstreams`.
   */
  upstream?: string;
  /**
   * Several Ollama servers: each request goes to the one the fleet's routing picks (least loaded,
   * skipping ejected hosts), and fails over to another before its first byte reaches the client.
   * Give this or `upstream`.
   */
  upstreams?: readonly string[];
  /**
   * Outlier ejection of the upstreams: consecutive connection failures or 5xx answers eject a
   * host for a while (shown on the live page).
   * @default the `FleetOptions` defaults of `bulwark` (5 failures, 30 s, at most 10 % of the hosts but always one)
   */
  fleet?: FleetOptions;
  /** Interface to listen on. @default "127.0.0.1" */
  host?: string;
  /** TCP port; 0 picks a free one. @default 11434 */
  port?: number;
  /**
   * Keys accepted in `Authorization: Bearer <key>` on the Ollama and `/v1` routes. Empty: no
   * authorization. The gateway never forwards, logs or echoes them.
   * @default []
   */
  apiKeys?: readonly string[];
  /** Headers added to every upstream request (e.g. the upstream's own `Authorization`); never logged. @default {} */
  upstreamHeaders?: Record<string, string>;
  /** Request bodies above this size get `413`. @default 33_554_432 (32 MiB, room for base64 images) */
  maxBodyBytes?: number;
  /** Milliseconds for the whole call, or the budgets of each phase. @default `DEFAULT_TIMEOUTS` of `bulwark` */
  timeout?: CreateOllamaOptions['timeout'];
  /** Retries after the first attempt, before the first byte reaches the client. @default 2 */
  maxRetries?: number;
  /** More retry options (backoff, budget…). */
  retry?: CreateOllamaOptions['retry'];
  /**
   * The per-model breaker's options, or `false` for none. With several upstreams, a host's
   * connection failures (refused, reset, connect timeout) do not count against a model unless
   * `failureOn` says otherwise: they eject the host instead (see `fleet`). Each attempt names the
   * upstream it goes to, so `key: 'host'` (or `'host+model'`) keeps one breaker per upstream,
   * which counts that host's connection failures too.
   * @default `{ key: 'model' }`
   */
  breaker?: CreateOllamaOptions['breaker'];
  /**
   * The per-model bulkhead's options, or `false` for none. With a `store` (`@bulwark/redis`'s
   * `redisBulkheadStore()`), gateway instances sharing it share one limit per model.
   * @default `{ key: 'model', limit: 4 × the number of upstreams, queue: 64 }`
   */
  bulkhead?: CreateOllamaOptions['bulkhead'];
  /**
   * A Redis URL (`redis://host:6379`) shared by several gateway instances: the bulkhead's slots,
   * the breaker's state and the retry budget live there (`@bulwark/redis` stores), so the
   * instances keep one set of limits; and the upstreams' ejections (`redisSharedState()`), so an
   * upstream one instance ejected is avoided by all and shown ejected on every live page. While
   * Redis does not answer, each instance goes on with its own. The URL is never logged or shown.
   * @default none (limits per instance)
   */
  redis?: string;
  /** How often the live page and `/readyz` refresh the upstream's state (`/api/ps`). @default 2_000 */
  refreshMs?: number;
  /** How often the live page receives a new state over server-sent events. @default 1_000 */
  pageIntervalMs?: number;
  /**
   * Export metrics over OTLP/HTTP when the standard variables ask for it (`OTEL_EXPORTER_OTLP_ENDPOINT`
   * or `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, and `OTEL_METRICS_EXPORTER` not `none`).
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

/** A running gateway. */
export interface Gateway {
  /** Where it listens, e.g. `http://127.0.0.1:11434`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening, ends open connections and streams, and frees the upstream sockets. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
