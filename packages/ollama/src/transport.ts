import { type Context, DEFAULT_PHASE_BUDGETS, type PhaseBudgets } from '@bulwark/core';
import { AttemptGuard, MAX_TIMER_MS } from '@bulwark/core/internal';
import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import { type Budgets, Exchange, type Reading, type StreamHandlers } from './exchange.js';
import { pathPrefix } from './host.js';
import { timedConnector } from './timed-connector.js';
import { USER_AGENT } from './version.js';

export type { StreamHandlers } from './exchange.js';

/** undici's own timers back ours up, a little later, so that ours fire first and name the phase. */
const BACKSTOP_SLACK_MS = 2_000;

/** undici's timer behind one of ours: a little later, within what a timer holds; 0 (none) for no limit. */
function backstop(budgetMs: number): number {
  return budgetMs === Number.POSITIVE_INFINITY ? 0 : Math.min(budgetMs + BACKSTOP_SLACK_MS, MAX_TIMER_MS);
}

/** Whether the environment names a proxy (`HTTP_PROXY`, `HTTPS_PROXY`, either case). */
function environmentProxy(): boolean {
  const env = process.env;
  return !!(env.http_proxy || env.HTTP_PROXY || env.https_proxy || env.HTTPS_PROXY);
}

export interface TransportOptions {
  /** The base URL: the origin and the path prefix of every route. */
  origin: URL;
  /** A proxy URL, `false` for none, `undefined` to follow `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY`. */
  proxy: string | false | undefined;
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
  readonly #agents = new Map<number, Dispatcher>();
  readonly #headers: Record<string, string>;
  readonly #originText: string;
  readonly #prefix: string;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.origin = options.origin;
    this.#originText = options.origin.origin;
    this.#prefix = pathPrefix(options.origin);
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/x-ndjson, application/json',
      'user-agent': USER_AGENT,
      ...options.headers,
    };
  }

  /** The agent that enforces a `connectMs` budget with Bulwark's own connect timer. */
  #agent(connectMs: number): Dispatcher {
    let agent = this.#agents.get(connectMs);
    if (!agent) {
      const connectTimeout = backstop(connectMs);
      const options = {
        connect: timedConnector(connectMs, connectTimeout),
        // The connection to a proxy has undici's timer only (ProxyAgent builds its own connector).
        proxyTls: { timeout: connectTimeout },
        connections: this.#options.connections,
        keepAliveTimeout: 30_000,
      };
      const { proxy } = this.#options;
      // As the Python client (httpx): an http:// server is reached through an HTTP proxy by
      // forwarding (absolute-form requests), an https:// one through a CONNECT tunnel.
      if (typeof proxy === 'string') agent = new ProxyAgent({ ...options, uri: proxy, proxyTunnel: false });
      else if (proxy === undefined && environmentProxy())
        agent = new EnvHttpProxyAgent({ ...options, proxyTunnel: false });
      else agent = new Agent(options);
      this.#agents.set(connectMs, agent);
    }
    return agent;
  }

  /** The phase budgets an attempt gets when its policy hands it `budgets` and its caller `call`. */
  phaseBudgets(budgets: Readonly<PhaseBudgets>, call: Readonly<PhaseBudgets> | undefined): Budgets {
    const first = call ?? budgets;
    const options = this.#options;
    return {
      connectMs: first.connectMs ?? budgets.connectMs ?? options.connectMs ?? DEFAULT_PHASE_BUDGETS.connectMs,
      headersMs: first.headersMs ?? budgets.headersMs ?? options.headersMs ?? DEFAULT_PHASE_BUDGETS.headersMs,
      firstTokenMs:
        first.firstTokenMs ??
        budgets.firstTokenMs ??
        options.firstTokenMs ??
        DEFAULT_PHASE_BUDGETS.firstTokenMs,
      idleMs: first.idleMs ?? budgets.idleMs ?? options.idleMs ?? DEFAULT_PHASE_BUDGETS.idleMs,
    };
  }

  /** The caller's budgets for this call first, then the policy's, then the client's, then the defaults. */
  #budgets(context: Context): Budgets {
    return this.phaseBudgets(context.budgets, context.callTimeout);
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
    // A caller's per-call attempt budget holds even where the client's policy has no attempt limit.
    guard.start('attempt', context.callTimeout?.attemptMs);
    const exchange = new Exchange({ context, guard, budgets, model, reading });
    // A signal that had already aborted failed the exchange: nothing is sent.
    if (guard.failure !== undefined) return exchange.promise;
    this.#agent(budgets.connectMs).dispatch(
      {
        origin: this.#originText,
        path: this.#prefix + path,
        method,
        headers: this.#headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: backstop(Math.min(budgets.headersMs, context.remainingMs())),
        bodyTimeout: backstop(budgets.idleMs),
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
