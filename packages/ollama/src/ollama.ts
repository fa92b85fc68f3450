import {
  type Attributes,
  type CallTimeout,
  type Clock,
  type Context,
  DEFAULT_CONNECTIONS,
  type Event,
  type ExecuteOptions,
  InvalidOptionError,
  type ModelLoadEndEvent,
  type ModelLoadStartEvent,
  noop,
  type Policy,
  realClock,
} from '@bulwark/core';
import {
  anyOf,
  assertSignal,
  budget,
  clockOption,
  duration,
  func,
  integer,
  numberIn,
  object,
  oneOf,
  pipelineLimits,
  StreamLifetime,
  validateOptions,
} from '@bulwark/core/internal';
import { callDeadline, resolveCallTimeout } from './call-timeout.js';
import { Channel } from './channel.js';
import { CallRoute } from './fleet/call-route.js';
import { checkFallbackModels, fallsBack } from './fleet/fallback-models.js';
import { Fleet, type FleetHost } from './fleet/fleet.js';
import { resolveHosts } from './fleet/fleet-hosts.js';
import { DEFAULT_HEDGE, Hedging, hedged } from './fleet/hedging.js';
import { DEFAULT_OUTLIER_DETECTION } from './fleet/outlier-detection.js';
import { DEFAULT_PS_REFRESH, PsRefresh } from './fleet/ps-refresh.js';
import { checkHeaders, resolveHost } from './host.js';
import { encodeRequestImages } from './images.js';
import { checkKeepAlive } from './keep-alive.js';
import { type LoadRequest, ModelLoads } from './model-loads.js';
import { ModelStates } from './model-states.js';
import { SharedState } from './shared-state.js';
import { OllamaTransport, type StreamHandlers } from './transport.js';
import type {
  AbortableAsyncIterator,
  CallOptions,
  ChatRequest,
  ChatResponse,
  CopyRequest,
  CreateRequest,
  DeleteRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  EmbedRequest,
  EmbedResponse,
  FleetSnapshot,
  GenerateRequest,
  GenerateResponse,
  ListResponse,
  LoadOptions,
  Message,
  ModelStatus,
  OllamaOptions,
  ProgressResponse,
  PullRequest,
  PushRequest,
  ShowRequest,
  ShowResponse,
  StatusResponse,
  TimeoutReport,
  ToolCall,
  VersionResponse,
} from './types.js';

type Json = Record<string, unknown>;

/** Defaults of the model states and owned loads. */
export const DEFAULT_MODEL_STATE = {
  loadMs: 600_000,
  maxModels: 1_000,
  serverKeepAliveMs: 300_000,
} as const;

/** How one kind of stream is read: what counts as first output, what ends it, how to assemble it. */
interface StreamKind<Chunk, Whole> {
  isFirst(record: Json): boolean;
  isFinal(record: Json): boolean;
  assemble(): { add(record: Json): void; result(final: Json): Whole };
  /** Whether a call waits for its model to be loaded first (generations, not loads or transfers). */
  ownsLoad(request: Json): boolean;
  /** Whether the final record says the model is resident (generations, loads and unloads). */
  readonly generation: boolean;
  readonly _chunk?: Chunk;
}

/**
 * Text assembled from a stream's pieces. Pieces are joined a batch at a time, so a long stream
 * keeps a few hundred strings alive rather than one per chunk (which the GC would copy and promote).
 */
class Text {
  static readonly BATCH = 256;
  #joined: string[] = [];
  #pending: string[] = [];

  add(piece: string): void {
    this.#pending.push(piece);
    if (this.#pending.length === Text.BATCH) {
      this.#joined.push(this.#pending.join(''));
      this.#pending = [];
    }
  }

  toString(): string {
    return this.#joined.join('') + this.#pending.join('');
  }
}

const chatKind: StreamKind<ChatResponse, ChatResponse> = {
  // An empty `messages` is Ollama's load (or unload) request.
  ownsLoad: (request) => Array.isArray(request.messages) && request.messages.length > 0,
  generation: true,
  isFirst: (record) => {
    const message = record.message as Message | undefined;
    return record.done === true || !!(message?.content || message?.thinking || message?.tool_calls?.length);
  },
  isFinal: (record) => record.done === true,
  assemble() {
    const content = new Text();
    const thinking = new Text();
    const toolCalls: ToolCall[] = [];
    return {
      add(record) {
        const message = record.message as Message | undefined;
        if (!message) return;
        if (message.content) content.add(message.content);
        if (message.thinking) thinking.add(message.thinking);
        if (message.tool_calls) toolCalls.push(...message.tool_calls);
      },
      result(final) {
        const message: Message = {
          ...(final.message as Message),
          role: (final.message as Message)?.role ?? 'assistant',
          content: content.toString(),
        };
        const thought = thinking.toString();
        if (thought) message.thinking = thought;
        else delete message.thinking;
        if (toolCalls.length > 0) message.tool_calls = toolCalls;
        return { ...final, message } as unknown as ChatResponse;
      },
    };
  },
};

const generateKind: StreamKind<GenerateResponse, GenerateResponse> = {
  // An empty prompt is Ollama's load (or unload) request.
  ownsLoad: (request) =>
    (typeof request.prompt === 'string' && request.prompt !== '') ||
    (Array.isArray(request.images) && request.images.length > 0),
  generation: true,
  isFirst: (record) => record.done === true || !!(record.response || record.thinking),
  isFinal: (record) => record.done === true,
  assemble() {
    const response = new Text();
    const thinking = new Text();
    return {
      add(record) {
        if (record.response) response.add(record.response as string);
        if (record.thinking) thinking.add(record.thinking as string);
      },
      result(final) {
        const whole: Json = { ...final, response: response.toString() };
        const thought = thinking.toString();
        if (thought) whole.thinking = thought;
        else delete whole.thinking;
        return whole as unknown as GenerateResponse;
      },
    };
  },
};

const progressKind: StreamKind<ProgressResponse, ProgressResponse> = {
  ownsLoad: () => false,
  generation: false,
  isFirst: () => true,
  isFinal: (record) => record.status === 'success',
  assemble: () => ({ add() {}, result: (final) => final as unknown as ProgressResponse }),
};

/** Why an iterator stopped the request when the caller let go of it. */
class StreamAbandoned extends Error {
  constructor() {
    super('The caller stopped reading the stream');
    this.name = 'AbortError';
  }
}

function checkRequest(
  method: string,
  request: unknown,
  required: readonly string[],
): asserts request is Json {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new InvalidOptionError(`ollama.${method}(): the request must be an object`, 'request');
  }
  for (const field of required) {
    if (typeof (request as Json)[field] !== 'string') {
      throw new InvalidOptionError(`ollama.${method}(): field "${field}" must be a string`, field);
    }
  }
}

/**
 * A client for the whole Ollama API, with the official `ollama` package's method names and shapes,
 * that runs every call through a Bulwark policy on undici.
 *
 * Every call asks the server for a stream: `stream: false` answers are assembled here, so a long
 * generation is bounded by first-token and idle budgets rather than one huge headers timeout.
 */
export class Ollama {
  /** The server's origin (the first host's, for a fleet). */
  readonly host: string;
  /** The base URL of every route: the origin and the path prefix the host had (`http://gateway:8080/ollama`). */
  readonly baseUrl: string;
  /** Every host's origin (one, unless `hosts` named several). */
  readonly hosts: readonly string[];
  readonly #fleet: Fleet;
  readonly #states: ModelStates | undefined;
  readonly #policy: Policy;
  readonly #streams = new Set<() => void>();
  readonly #fallbacks: ReadonlyMap<string, readonly string[]>;
  readonly #hedging: Hedging | undefined;
  readonly #psRefresh: PsRefresh | undefined;
  readonly #clock: Clock;
  readonly #shared: SharedState | undefined;
  /** A load the client owns was sent (see "Cold starts"). */
  readonly onLoadStart: Event<ModelLoadStartEvent>;
  /** A load the client owns ended, with its duration and outcome. */
  readonly onLoadEnd: Event<ModelLoadEndEvent>;

  constructor(options: OllamaOptions = {}) {
    validateOptions('new Ollama()', options, {
      host: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
      // checked by resolveHosts, entry by entry
      hosts: () => undefined,
      fleet: object,
      // checked by checkFallbackModels
      fallbackModels: () => undefined,
      hedge: anyOf(oneOf(false), object),
      // checked by checkHeaders, which never shows a value
      headers: () => undefined,
      policy: object,
      instrument: func,
      connections: integer(1),
      connectMs: budget(1),
      headersMs: budget(1),
      firstTokenMs: budget(1),
      idleMs: budget(1),
      maxLineBytes: integer(1),
      loadMs: budget(1),
      proxy: (value) =>
        value === false || (typeof value === 'string' && /^https?:\/\/[^\s]+$/i.test(value))
          ? undefined
          : 'must be an http: or https: URL, or false for none',
      modelState: anyOf(oneOf(true, false), object),
      sharedState: (value) =>
        value !== null &&
        typeof value === 'object' &&
        ['read', 'setWarm', 'claimLoad', 'endLoad', 'setEjected'].every(
          (method) => typeof (value as unknown as Record<string, unknown>)[method] === 'function',
        )
          ? undefined
          : 'must be a shared state store (read, setWarm, claimLoad, endLoad, setEjected), e.g. redisSharedState()',
    });
    const modelState = typeof options.modelState === 'object' ? options.modelState : {};
    validateOptions('new Ollama(): option "modelState"', modelState, {
      maxModels: integer(1),
      serverKeepAliveMs: numberIn(Number.NEGATIVE_INFINITY, Number.MAX_SAFE_INTEGER),
      clock: clockOption,
    });
    if (options.policy !== undefined && typeof options.policy.execute !== 'function') {
      throw new InvalidOptionError('new Ollama(): option "policy" must be a Bulwark policy', 'policy');
    }
    const fleetOptions = options.fleet ?? {};
    validateOptions('new Ollama(): option "fleet"', fleetOptions, {
      consecutiveFailures: integer(1),
      baseEjectionMs: duration(1),
      maxEjectionMs: duration(1),
      maxEjectionPercent: numberIn(0, 100),
      psRefreshMs: budget(1),
      psTimeoutMs: duration(1),
      clock: clockOption,
    });
    const specs = resolveHosts(options.host, options.hosts);
    this.#fallbacks = checkFallbackModels(options.fallbackModels);
    if (options.hedge) {
      validateOptions('new Ollama(): option "hedge"', options.hedge, {
        delayMs: duration(0),
        percentile: numberIn(1, 100),
        maxShare: numberIn(0, 1),
        minSamples: integer(1),
      });
      this.#hedging = new Hedging({
        delayMs: options.hedge.delayMs,
        percentile: options.hedge.percentile ?? DEFAULT_HEDGE.percentile,
        maxShare: options.hedge.maxShare ?? DEFAULT_HEDGE.maxShare,
        minSamples: options.hedge.minSamples ?? DEFAULT_HEDGE.minSamples,
      });
    }
    this.host = (specs[0] as (typeof specs)[number]).origin.origin;
    this.hosts = Object.freeze(specs.map((spec) => spec.origin.origin));
    this.baseUrl = (specs[0] as (typeof specs)[number]).origin.href.replace(/\/$/, '');
    const headers = checkHeaders(options.headers);
    const policy = options.policy ?? noop();
    this.#policy = options.instrument ? options.instrument(policy) : policy;
    const clock = modelState.clock ?? realClock;
    this.#clock = clock;
    if (options.modelState !== false) {
      const serverKeepAliveMs = modelState.serverKeepAliveMs ?? DEFAULT_MODEL_STATE.serverKeepAliveMs;
      this.#states = new ModelStates({
        maxModels: modelState.maxModels ?? DEFAULT_MODEL_STATE.maxModels,
        clock,
        serverKeepAliveMs: serverKeepAliveMs < 0 ? Number.POSITIVE_INFINITY : serverKeepAliveMs,
      });
    }
    const states = this.#states;
    this.#fleet = new Fleet({
      hosts: specs.map((spec) => {
        const transport = new OllamaTransport({
          origin: spec.origin,
          proxy: options.proxy,
          headers,
          connections: options.connections ?? DEFAULT_CONNECTIONS,
          connectMs: options.connectMs,
          headersMs: options.headersMs,
          firstTokenMs: options.firstTokenMs,
          idleMs: options.idleMs,
          maxLineBytes: options.maxLineBytes ?? 8_000_000,
        });
        const loads = states
          ? new ModelLoads({
              states,
              transport,
              host: spec.origin.origin,
              loadMs: options.loadMs ?? DEFAULT_MODEL_STATE.loadMs,
            })
          : undefined;
        return { origin: spec.origin.origin, transport, loads, weight: spec.weight, capacity: spec.capacity };
      }),
      states,
      clock: fleetOptions.clock ?? clock,
      outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, ...withoutUndefined(fleetOptions) },
    });
    if (states && specs.length > 1) {
      this.#psRefresh = new PsRefresh({
        fleet: this.#fleet,
        states,
        clock: fleetOptions.clock ?? clock,
        settings: {
          refreshMs: fleetOptions.psRefreshMs ?? DEFAULT_PS_REFRESH.refreshMs,
          timeoutMs: fleetOptions.psTimeoutMs ?? DEFAULT_PS_REFRESH.timeoutMs,
        },
      });
    }
    const all = this.#fleet.hosts.flatMap((host) => (host.loads ? [host.loads] : []));
    if (options.sharedState) {
      const shared = new SharedState({
        store: options.sharedState,
        states,
        fleet: this.#fleet,
        fleetClock: fleetOptions.clock ?? clock,
      });
      this.#shared = shared;
      for (const loads of all) loads.shared = shared;
    }
    this.onLoadStart = merged(all.map((loads) => loads.onLoadStart));
    this.onLoadEnd = merged(all.map((loads) => loads.onLoadEnd));
  }

  /**
   * Sends one streamed attempt to `host`; with hedging on and `warmModel` warm there (never for a
   * model that is loading), also to a second host where it is warm when no record arrived within
   * the hedge delay.
   */
  /**
   * One attempt of a generation on `host`, streamed or collected: waits for the model when the
   * client owns its load, sends (hedged when asked), and learns the model's state from the answer.
   */
  async #generationAttempt(
    host: FleetHost,
    context: Context,
    operation: string,
    request: Json,
    kind: StreamKind<unknown, unknown>,
    owned: boolean,
    send: { path: string; body: Json; callerSignal: AbortSignal | undefined; handlers: StreamHandlers },
  ): Promise<Json> {
    const model = send.handlers.model;
    try {
      let warm = false;
      if (owned) {
        const waiting = this.#ready(host, context, operation, model, request);
        if (waiting) await waiting;
        else warm = true;
      }
      const final = await this.#send(
        context,
        host,
        warm ? model : undefined,
        send.path,
        send.body,
        send.callerSignal,
        send.handlers,
      );
      if (model !== undefined && kind.generation) host.loads?.learn(model, final, request.keep_alive);
      return final;
    } catch (error) {
      if (model !== undefined && kind.generation) host.loads?.failed(model, error);
      throw error;
    }
  }

  #send(
    context: Context,
    host: FleetHost,
    warmModel: string | undefined,
    path: string,
    body: Json,
    callerSignal: AbortSignal | undefined,
    handlers: StreamHandlers,
  ): Promise<Json> {
    const hedging = this.#hedging;
    if (!hedging || warmModel === undefined || this.#fleet.hosts.length === 1)
      return host.transport.stream(context, path, body, handlers);
    hedging.counted();
    const delayMs = hedging.delayFor(warmModel);
    if (delayMs === undefined) {
      // Still learning the model's times to first chunk.
      const startedAt = this.#clock.now();
      let first = true;
      return host.transport.stream(context, path, body, {
        ...handlers,
        deliver: (record) => {
          if (first) {
            first = false;
            hedging.sample(warmModel, this.#clock.now() - startedAt);
          }
          handlers.deliver(record);
        },
      });
    }
    return hedged({
      context,
      clock: this.#clock,
      delayMs,
      primary: host,
      callerSignal,
      deliver: handlers.deliver,
      onFirst: (ms) => hedging.sample(warmModel, ms),
      send: (legContext, legHost, deliver) =>
        legHost.transport.stream(legContext, path, body, { ...handlers, deliver }),
      hedge: () => {
        // A hedge goes to a warm host, within the share, and costs a retry from the retry budget.
        const target = this.#fleet.pickWarm(warmModel, host, delayMs);
        if (!target || !hedging.allows()) return undefined;
        const paid = context.spendRetry();
        const send = (allowed: boolean) => {
          if (!allowed || !hedging.allows()) return undefined;
          hedging.take();
          return this.#fleet.acquire(warmModel, new Set(), target);
        };
        return typeof paid === 'boolean' ? send(paid) : paid.then(send, () => undefined);
      },
    });
  }

  /**
   * Runs one attempt on the host routing picks (or `pinned`). A host that failed is avoided by the
   * call's later attempts while another remains: a retry fails over to another host.
   */
  async #onHost<T>(
    route: CallRoute,
    context: Context,
    callerSignal: AbortSignal | undefined,
    run: (host: FleetHost, context: Context) => Promise<T>,
  ): Promise<T> {
    const lease = route.take();
    try {
      const result = await run(
        lease.host,
        this.#fleet.hosts.length > 1 ? context.with({ onFirstChunk: () => lease.firstChunk() }) : context,
      );
      lease.release(undefined, callerSignal);
      return result;
    } catch (error) {
      route.failed(lease.host);
      lease.release(error, callerSignal);
      throw error;
    }
  }

  /** The route of one call, and what the policy needs of it (a fleet names each attempt's host). */
  #route(model: string | undefined, pinned?: FleetHost): CallRoute {
    if (model !== undefined) this.#psRefresh?.due();
    return new CallRoute(this.#fleet, model, pinned);
  }

  #routing(route: CallRoute): Pick<ExecuteOptions, 'attemptAttributes'> | undefined {
    return this.#fleet.hosts.length > 1 ? { attemptAttributes: route.attemptAttributes } : undefined;
  }

  /**
   * What a call to `model` must wait for first: nothing when the model is known warm, else the
   * load the client owns. Not for calls that are loads or unloads themselves (an empty prompt).
   */
  #ready(
    host: FleetHost,
    context: Context,
    operation: string,
    model: string | undefined,
    request: Json,
  ): Promise<void> | undefined {
    const loads = host.loads;
    if (!loads || model === undefined) return undefined;
    const load: LoadRequest = {
      keepAlive: request.keep_alive,
      options: request.options,
      kind: operation === 'embed' || operation === 'embeddings' ? 'embed' : 'generate',
    };
    return loads.ready(context, model, load);
  }

  #attributes(operation: string, model: string | undefined, request: unknown): Attributes {
    // A fleet picks the host per attempt, after the attributes are set.
    return {
      operation,
      model,
      host: this.hosts.length === 1 ? this.host : undefined,
      provider: 'ollama',
      request,
    };
  }

  /** A streamed call: returns the iterator once the first record is there (or the call failed first). */
  async #streaming<T>(
    operation: string,
    path: string,
    request: Json,
    kind: StreamKind<T, unknown>,
    options: CallOptions | undefined,
  ): Promise<AbortableAsyncIterator<T>> {
    const model = typeof request.model === 'string' ? request.model : undefined;
    const owned = kind.ownsLoad(request);
    const callTimeout = resolveCallTimeout(`ollama.${operation}()`, options?.timeout);
    const channel = new Channel<T>();
    const linked = callDeadline(options?.signal, callTimeout?.totalMs);
    let abandoned = false;
    const body = { ...request, stream: true };
    // What other processes saw of the model and the hosts, before routing.
    if (this.#shared) await this.#shared.sync(model);
    const route = this.#route(model);
    const call = this.#policy.execute(
      (context: Context) =>
        this.#onHost(route, context, linked.signal, async (host, context) => {
          const lifetime = new StreamLifetime(context);
          try {
            const whole = kind.assemble();
            const final = await this.#generationAttempt(host, context, operation, request, kind, owned, {
              path,
              body,
              callerSignal: linked.signal,
              handlers: {
                model,
                isFirst: kind.isFirst,
                isFinal: kind.isFinal,
                deliver: (record) => {
                  whole.add(record);
                  channel.push(record as T, lifetime);
                },
                consumer: channel,
              },
            });
            // The attempt (and a bulkhead slot, a span) lasts until the caller has read the last chunk.
            channel.finish(lifetime);
            await lifetime.done;
            return whole.result(final);
          } catch (error) {
            // The caller may have taken a record between the failure and here: then the attempt is
            // committed (the context says so, for retry and telemetry) and its records stay.
            if (!lifetime.committed) channel.drop(lifetime);
            lifetime.fail(error);
            throw error;
          }
        }),
      {
        signal: linked.signal,
        attributes: this.#attributes(operation, model, request),
        ...(callTimeout && { timeout: callTimeout }),
        ...this.#routing(route),
        onCallEvent: options?.onCallEvent,
      },
    );
    const stop = (reason: unknown) => {
      abandoned = true;
      linked.abort(reason);
    };
    const abortAll = () => {
      const reason = new StreamAbandoned();
      stop(reason);
      channel.abandon(reason);
    };
    this.#streams.add(abortAll);
    call.then(
      () => channel.close(),
      (error: unknown) => {
        if (!abandoned) channel.fail(error);
      },
    );
    void call
      .finally(() => {
        route.end();
        linked.clear();
        this.#streams.delete(abortAll);
      })
      .catch(() => {});
    await channel.ready;
    const iterator: AbortableAsyncIterator<T> = {
      next: () => channel.next(),
      return: async () => {
        if (!abandoned) stop(new StreamAbandoned());
        channel.abandon();
        return { value: undefined, done: true };
      },
      abort: () => {
        abortAll();
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** A `stream: false` call: the server still streams; the answer is assembled here. */
  #collect<W>(
    operation: string,
    path: string,
    request: Json,
    kind: StreamKind<unknown, W>,
    options: CallOptions | undefined,
    pinned?: FleetHost,
  ): Promise<W> {
    const model = typeof request.model === 'string' ? request.model : undefined;
    const body = { ...request, stream: true };
    const owned = kind.ownsLoad(request);
    const route = this.#route(model, pinned);
    return this.#execute(
      operation,
      route,
      (context: Context) =>
        this.#onHost(route, context, options?.signal, async (host, context) => {
          const whole = kind.assemble();
          const final = await this.#generationAttempt(host, context, operation, request, kind, owned, {
            path,
            body,
            callerSignal: options?.signal,
            handlers: { model, isFirst: kind.isFirst, isFinal: kind.isFinal, deliver: whole.add },
          });
          return whole.result(final);
        }),
      model,
      request,
      options,
    );
  }

  /** Runs a call through the policy with the caller's signal and budgets. */
  #execute<T>(
    operation: string,
    route: CallRoute,
    fn: (context: Context) => Promise<T>,
    model: string | undefined,
    request: Json | undefined,
    options: CallOptions | undefined,
    synced = false,
  ): Promise<T> {
    let callTimeout: CallTimeout | undefined;
    try {
      callTimeout = resolveCallTimeout(`ollama.${operation}()`, options?.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    // What other processes saw of the model and the hosts, before routing (a pinned host is not routed).
    if (this.#shared && !synced && !route.pinned)
      return this.#shared
        .sync(model)
        .then(() => this.#execute(operation, route, fn, model, request, options, true));
    const attributes = this.#attributes(operation, model, request);
    const routing = this.#routing(route);
    if (callTimeout === undefined) {
      const call = this.#policy.execute(fn, {
        signal: options?.signal,
        attributes,
        ...routing,
        onCallEvent: options?.onCallEvent,
      });
      return routing ? call.finally(() => route.end()) : call;
    }
    const deadline =
      callTimeout.totalMs === undefined || callTimeout.totalMs === Number.POSITIVE_INFINITY
        ? undefined
        : callDeadline(options?.signal, callTimeout.totalMs);
    const call = this.#policy.execute(fn, {
      signal: deadline ? deadline.signal : options?.signal,
      attributes,
      timeout: callTimeout,
      ...routing,
      onCallEvent: options?.onCallEvent,
    });
    return call.finally(() => {
      route.end();
      deadline?.clear();
    });
  }

  #json<T>(
    operation: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    request: Json | undefined,
    options: CallOptions | undefined,
    pinned?: FleetHost,
  ): Promise<T> {
    const model = typeof request?.model === 'string' ? request.model : undefined;
    const route = this.#route(model, pinned);
    return this.#execute(
      operation,
      route,
      (context: Context) =>
        this.#onHost(
          route,
          context,
          options?.signal,
          (host, context) => host.transport.json(context, method, path, request, model) as Promise<T>,
        ),
      model,
      request,
      options,
    );
  }

  /** An embedding call: waits for the model as a generation does. */
  #embedding<T>(
    operation: string,
    path: string,
    request: Json,
    options: CallOptions | undefined,
  ): Promise<T> {
    if (!this.#states) return this.#json(operation, 'POST', path, request, options);
    const model = request.model as string;
    const route = this.#route(model);
    return this.#execute(
      operation,
      route,
      (context: Context) =>
        this.#onHost(route, context, options?.signal, async (host, context) => {
          try {
            const waiting = this.#ready(host, context, operation, model, request);
            if (waiting) await waiting;
            const answer = (await host.transport.json(context, 'POST', path, request, model)) as T;
            host.loads?.learn(model, undefined, request.keep_alive);
            return answer;
          } catch (error) {
            host.loads?.failed(model, error);
            throw error;
          }
        }),
      model,
      request,
      options,
    );
  }

  /** Chat with a model. `stream: true` returns an async iterator of chunks. */
  chat(
    request: ChatRequest & { stream: true },
    options?: CallOptions,
  ): Promise<AbortableAsyncIterator<ChatResponse>>;
  chat(request: ChatRequest & { stream?: false }, options?: CallOptions): Promise<ChatResponse>;
  chat(
    request: ChatRequest,
    options?: CallOptions,
  ): Promise<ChatResponse | AbortableAsyncIterator<ChatResponse>>;
  chat(
    request: ChatRequest,
    options?: CallOptions,
  ): Promise<ChatResponse | AbortableAsyncIterator<ChatResponse>> {
    return this.#generation('chat', '/api/chat', request, chatKind, options);
  }

  /** Generate a completion. `stream: true` returns an async iterator of chunks. */
  generate(
    request: GenerateRequest & { stream: true },
    options?: CallOptions,
  ): Promise<AbortableAsyncIterator<GenerateResponse>>;
  generate(request: GenerateRequest & { stream?: false }, options?: CallOptions): Promise<GenerateResponse>;
  generate(
    request: GenerateRequest,
    options?: CallOptions,
  ): Promise<GenerateResponse | AbortableAsyncIterator<GenerateResponse>>;
  generate(
    request: GenerateRequest,
    options?: CallOptions,
  ): Promise<GenerateResponse | AbortableAsyncIterator<GenerateResponse>> {
    return this.#generation('generate', '/api/generate', request, generateKind, options);
  }

  /** Download a model. `stream: true` returns progress records. */
  pull(
    request: PullRequest & { stream: true },
    options?: CallOptions,
  ): Promise<AbortableAsyncIterator<ProgressResponse>>;
  pull(request: PullRequest & { stream?: false }, options?: CallOptions): Promise<ProgressResponse>;
  pull(
    request: PullRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>>;
  pull(
    request: PullRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>> {
    return this.#generation('pull', '/api/pull', request, progressKind, options);
  }

  /** Upload a model. `stream: true` returns progress records. */
  push(
    request: PushRequest & { stream: true },
    options?: CallOptions,
  ): Promise<AbortableAsyncIterator<ProgressResponse>>;
  push(request: PushRequest & { stream?: false }, options?: CallOptions): Promise<ProgressResponse>;
  push(
    request: PushRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>>;
  push(
    request: PushRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>> {
    return this.#generation('push', '/api/push', request, progressKind, options);
  }

  /** Create a model. `stream: true` returns progress records. */
  create(
    request: CreateRequest & { stream: true },
    options?: CallOptions,
  ): Promise<AbortableAsyncIterator<ProgressResponse>>;
  create(request: CreateRequest & { stream?: false }, options?: CallOptions): Promise<ProgressResponse>;
  create(
    request: CreateRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>>;
  create(
    request: CreateRequest,
    options?: CallOptions,
  ): Promise<ProgressResponse | AbortableAsyncIterator<ProgressResponse>> {
    return this.#generation('create', '/api/create', request, progressKind, options);
  }

  #generation<C, W>(
    operation: string,
    path: string,
    request: unknown,
    kind: StreamKind<C, W>,
    options: CallOptions | undefined,
  ): Promise<W | AbortableAsyncIterator<C>> {
    try {
      checkRequest(operation, request, ['model']);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = (body: Json): Promise<W | AbortableAsyncIterator<C>> =>
      body.stream === true
        ? this.#streaming(operation, path, body, kind, options)
        : this.#collect(operation, path, body, kind, options);
    const fallbacks = kind.generation ? this.#fallbacks.get(request.model as string) : undefined;
    const send = (body: Json): Promise<W | AbortableAsyncIterator<C>> =>
      fallbacks ? this.#withFallbacks(body, fallbacks, options, run) : run(body);
    // Images are encoded once, before the policy runs: every attempt sends the same base64 text.
    const hasImages =
      request.images !== undefined ||
      (Array.isArray(request.messages) &&
        request.messages.some((message: { images?: unknown } | null) => message?.images !== undefined));
    return hasImages ? encodeRequestImages(operation, request).then(send) : send(request);
  }

  /**
   * Runs the call with its model, then each fallback model in order while the call fails before
   * any output with an error that says the model's hosts are overloaded, failing or too slow. The
   * answer's `model` names the model that answered.
   */
  async #withFallbacks<R>(
    request: Json,
    fallbacks: readonly string[],
    options: CallOptions | undefined,
    run: (request: Json) => Promise<R>,
  ): Promise<R> {
    const models = [request.model as string, ...fallbacks];
    for (let index = 0; ; index++) {
      try {
        return await run(index === 0 ? request : { ...request, model: models[index] });
      } catch (error) {
        if (index === models.length - 1 || !fallsBack(error, options?.signal)) throw error;
      }
    }
  }

  #checked<T>(
    operation: string,
    request: unknown,
    required: readonly string[],
    run: (request: Json) => Promise<T>,
  ): Promise<T> {
    try {
      checkRequest(operation, request, required);
    } catch (error) {
      return Promise.reject(error);
    }
    return run(request);
  }

  /** Embeddings for one or more inputs. */
  embed(request: EmbedRequest, options?: CallOptions): Promise<EmbedResponse> {
    return this.#checked('embed', request, ['model'], (body) =>
      this.#embedding('embed', '/api/embed', body, options),
    );
  }

  /** The legacy single embedding. */
  embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResponse> {
    return this.#checked('embeddings', request, ['model'], (body) =>
      this.#embedding('embeddings', '/api/embeddings', body, options),
    );
  }

  /** Models on the server. */
  list(options?: CallOptions): Promise<ListResponse> {
    return this.#json('list', 'GET', '/api/tags', undefined, options);
  }

  /** Details of a model. */
  show(request: ShowRequest, options?: CallOptions): Promise<ShowResponse> {
    return this.#checked('show', request, ['model'], (body) =>
      this.#json('show', 'POST', '/api/show', body, options),
    );
  }

  /**
   * Models loaded in memory (on every host of a fleet, in host order). The answer also updates
   * {@link Ollama.modelStates}.
   */
  async ps(options?: CallOptions): Promise<ListResponse> {
    const answers = await Promise.all(
      this.#fleet.hosts.map(async (host) => {
        const answer = await this.#json<ListResponse>('ps', 'GET', '/api/ps', undefined, options, host);
        if (this.#states && Array.isArray(answer?.models))
          this.#states.learnLoaded(host.origin, answer.models);
        return answer;
      }),
    );
    if (answers.length === 1) return answers[0] as ListResponse;
    return { models: answers.flatMap((answer) => (Array.isArray(answer?.models) ? answer.models : [])) };
  }

  /**
   * Loads `model` with a load-only request (an empty prompt; an empty embed for embedding models)
   * and refreshes its keep-alive, or joins the load already running. The load runs under the
   * client's `loadMs`, outside the policy; `signal` ends this wait, not the load. Resolves once the
   * model is warm; rejects with the server's error when the load fails.
   */
  load(model: string, options: LoadOptions = {}): Promise<void> {
    try {
      if (typeof model !== 'string' || model === '')
        throw new InvalidOptionError('ollama.load(): the model must be a non-empty string', 'model');
      validateOptions('ollama.load()', options, {
        keepAlive: () => undefined,
        signal: () => undefined,
        host: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
      });
      checkKeepAlive('ollama.load()', options.keepAlive);
      assertSignal(options.signal, 'ollama.load()');
      if (!this.#states)
        throw new InvalidOptionError('ollama.load(): model states are off (modelState: false)', 'modelState');
    } catch (error) {
      return Promise.reject(error);
    }
    let host: FleetHost;
    try {
      host =
        options.host === undefined
          ? this.#fleet.pick(model, new Set())
          : this.#hostNamed('ollama.load()', options.host);
    } catch (error) {
      return Promise.reject(error);
    }
    return (host.loads as ModelLoads).load(model, options.keepAlive, options.signal);
  }

  /** The fleet's host at `value` (any form `host` accepts). */
  #hostNamed(method: string, value: string): FleetHost {
    let origin: string;
    try {
      origin = resolveHost(value).origin;
    } catch {
      origin = '';
    }
    const host = this.#fleet.hosts.find((candidate) => candidate.origin === origin);
    if (!host)
      throw new InvalidOptionError(
        `${method}: option "host" must be one of the client's hosts (${this.hosts.join(', ')}), got ${JSON.stringify(value.slice(0, 80))}`,
        'host',
      );
    return host;
  }

  /**
   * Unloads `model` now (Ollama's empty prompt with `keep_alive: 0`), through the client's policy;
   * the next call to it loads it again.
   */
  async unload(model: string, options?: CallOptions): Promise<void> {
    if (typeof model !== 'string' || model === '')
      throw new InvalidOptionError('ollama.unload(): the model must be a non-empty string', 'model');
    const request = { model, prompt: '', keep_alive: 0 };
    // Every host of a fleet: the model may be resident on any of them.
    await Promise.all(
      this.#fleet.hosts.map(async (host) => {
        await this.#collect('generate', '/api/generate', request, generateKind, options, host);
        host.loads?.unloaded(model);
      }),
    );
  }

  /** The hosts: outstanding attempts, ejections, warm and loading models, and hedges sent. */
  fleet(): FleetSnapshot {
    return { ...this.#fleet.snapshot(), hedges: this.#hedging?.counts() ?? { attempts: 0, hedges: 0 } };
  }

  /** What the client knows of each model: warm (until when), loading, or cold. Empty with `modelState: false`. */
  modelStates(): ModelStatus[] {
    return this.#states ? this.#states.snapshot() : [];
  }

  /** Copies a model. */
  async copy(request: CopyRequest, options?: CallOptions): Promise<StatusResponse> {
    await this.#checked('copy', request, ['source', 'destination'], (body) =>
      this.#json('copy', 'POST', '/api/copy', body, options),
    );
    return { status: 'success' };
  }

  /** Deletes a model. */
  async delete(request: DeleteRequest, options?: CallOptions): Promise<StatusResponse> {
    await this.#checked('delete', request, ['model'], (body) =>
      this.#json('delete', 'DELETE', '/api/delete', body, options),
    );
    return { status: 'success' };
  }

  /** The server's version. */
  version(options?: CallOptions): Promise<VersionResponse> {
    return this.#json('version', 'GET', '/api/version', undefined, options);
  }

  /**
   * The budgets a generation call gets, and the longest it can take with its retries, so nobody has
   * to add them up. Give a call's `timeout` to see what that call would get.
   *
   * @example
   * const { worstCaseMs, maxAttempts, idleMs } = ollama.timeouts();
   */
  timeouts(options?: Pick<CallOptions, 'timeout'>): TimeoutReport {
    const call = resolveCallTimeout('ollama.timeouts()', options?.timeout);
    const limits = pipelineLimits(this.#policy);
    const transport = (this.#fleet.hosts[0] as FleetHost).transport;
    const phases = transport.phaseBudgets(limits.budgets, call);
    const attemptMs = call?.attemptMs ?? limits.attemptMs;
    const totalMs = call?.totalMs ?? limits.totalMs;
    const silentAttemptMs = Math.min(phases.headersMs, phases.firstTokenMs, attemptMs);
    const { maxAttempts, maxDelayMs } = limits;
    const worstCaseMs = Math.min(totalMs, maxAttempts * silentAttemptMs + (maxAttempts - 1) * maxDelayMs);
    return { ...phases, attemptMs, totalMs, maxAttempts, maxDelayMs, worstCaseMs };
  }

  /** Aborts every open stream of this client, as the official client's `abort()` does. */
  abort(): void {
    for (const abort of [...this.#streams]) abort();
  }

  /** Aborts open streams and closes every connection. */
  async close(): Promise<void> {
    this.abort();
    this.#psRefresh?.close();
    for (const host of this.#fleet.hosts) host.loads?.close();
    await Promise.all(this.#fleet.hosts.map((host) => host.transport.close()));
  }
}

/** One event made of several: a listener subscribes to each. */
function merged<T>(events: readonly Event<T>[]): Event<T> {
  return (listener) => {
    const handles = events.map((event) => event(listener));
    return {
      dispose() {
        for (const handle of handles) handle.dispose();
      },
    };
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, entry] of Object.entries(value))
    if (entry !== undefined && key !== 'clock') (out as Record<string, unknown>)[key] = entry;
  return out;
}
