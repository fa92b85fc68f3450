import { AttemptGuard, type Context } from '@bulwark/core';
import { Agent } from 'undici';
import { type Budgets, Exchange, type Reading, type StreamHandlers } from './exchange.js';

export type { StreamHandlers } from './exchange.js';

/** Defaults of the phase budgets, used when neither the client nor a `timeout()` sets one. */
export const DEFAULT_BUDGETS = {
  connectMs: 10_000,
  headersMs: 300_000,
  firstTokenMs: 300_000,
  idleMs: 60_000,
} as const;

/** undici's own timers back ours up, a little later, so that ours fire first and name the phase. */
const BACKSTOP_SLACK_MS = 2_000;

export interface TransportOptions {
  origin: URL;
  headers: Record<string, string>;
  connections: number;
  connectMs: number | undefined;
  headersMs: number | undefined;
  firstTokenMs: number | undefined;
  idleMs: number | undefined;
  maxLineBytes: number;
}

/**
 * One attempt against Ollama over undici: the request, the phase budgets, the error mapping and
 * the NDJSON stream. Every budget is set explicitly; none is left at undici's implicit 300 s.
 */
export class OllamaTransport {
  readonly origin: URL;
  readonly #options: TransportOptions;
  readonly #agents = new Map<number, Agent>();
  readonly #headers: Record<string, string>;
  readonly #originText: string;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.origin = options.origin;
    this.#originText = options.origin.origin;
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/x-ndjson, application/json',
      ...options.headers,
    };
  }

  #agent(connectMs: number): Agent {
    let agent = this.#agents.get(connectMs);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: connectMs },
        connections: this.#options.connections,
        keepAliveTimeout: 30_000,
      });
      this.#agents.set(connectMs, agent);
    }
    return agent;
  }

  #budgets(context: Context): Budgets {
    const budgets = context.budgets;
    const options = this.#options;
    return {
      connectMs: budgets.connectMs ?? options.connectMs ?? DEFAULT_BUDGETS.connectMs,
      headersMs: budgets.headersMs ?? options.headersMs ?? DEFAULT_BUDGETS.headersMs,
      firstTokenMs: budgets.firstTokenMs ?? options.firstTokenMs ?? DEFAULT_BUDGETS.firstTokenMs,
      idleMs: budgets.idleMs ?? options.idleMs ?? DEFAULT_BUDGETS.idleMs,
    };
  }

  /** Sends one request; the exchange reads its answer as `reading` says. */
  #exchange(
    context: Context,
    method: 'GET' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    body: unknown,
    model: string | undefined,
    reading: Reading,
  ): Promise<unknown> {
    const guard = new AttemptGuard(context);
    const budgets = this.#budgets(context);
    if (reading.kind === 'records') guard.start('first-token', budgets.firstTokenMs);
    guard.start('headers', budgets.headersMs);
    const exchange = new Exchange({ context, guard, budgets, model, reading });
    // A signal that had already aborted failed the exchange: nothing is sent.
    if (guard.failure !== undefined) return exchange.promise;
    this.#agent(budgets.connectMs).dispatch(
      {
        origin: this.#originText,
        path,
        method,
        headers: this.#headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: Math.min(budgets.headersMs, context.remainingMs()) + BACKSTOP_SLACK_MS,
        bodyTimeout: budgets.idleMs + BACKSTOP_SLACK_MS,
      },
      exchange,
    );
    return exchange.promise;
  }

  /**
   * One streamed attempt: sends `body` (which asks for a stream), hands every record to
   * `handlers.deliver` and resolves with the final record once the stream ended with it.
   */
  stream(
    context: Context,
    path: string,
    body: unknown,
    handlers: StreamHandlers,
  ): Promise<Record<string, unknown>> {
    return this.#exchange(context, 'POST', path, body, handlers.model, {
      kind: 'records',
      handlers,
      maxLineBytes: this.#options.maxLineBytes,
    }) as Promise<Record<string, unknown>>;
  }

  /** One attempt of a plain JSON call (list, show, embed…). An empty body is `undefined` for copy and delete, a `ProtocolError` elsewhere. */
  json(
    context: Context,
    method: 'GET' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    body: unknown,
    model: string | undefined,
  ): Promise<unknown> {
    return this.#exchange(context, method, path, body, model, { kind: 'json', method, path });
  }

  /** Destroys every connection at once. */
  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((agent) => agent.destroy()));
  }
}
