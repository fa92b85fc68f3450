import type { CreateOllamaOptions } from 'bulwark';

/** Options of {@link startGateway}. Unknown keys and bad values throw an `InvalidOptionError` naming the option. */
export interface GatewayOptions {
  /**
   * The Ollama server the gateway calls, e.g. `http://127.0.0.1:11434`. Exactly one: several
   * upstreams need the fleet support, which the gateway does not have yet.
   */
  upstream: string;
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
  /** The per-model breaker's options, or `false` for none. @default `{ key: 'model' }` */
  breaker?: CreateOllamaOptions['breaker'];
  /** The per-model bulkhead's options, or `false` for none. @default `{ key: 'model', limit: 4, queue: 64 }` */
  bulkhead?: CreateOllamaOptions['bulkhead'];
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
