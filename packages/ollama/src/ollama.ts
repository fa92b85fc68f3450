import {
  type Attributes,
  BulwarkError,
  budget,
  type CallTimeout,
  type Context,
  func,
  InvalidOptionError,
  integer,
  noop,
  object,
  type Policy,
  pipelineLimits,
  validateOptions,
} from '@bulwark/core';
import { callDeadline, resolveCallTimeout } from './call-timeout.js';
import { Channel } from './channel.js';
import { checkHeaders, resolveHost } from './host.js';
import { OllamaTransport } from './transport.js';
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
  GenerateRequest,
  GenerateResponse,
  ListResponse,
  Message,
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

/** How one kind of stream is read: what counts as first output, what ends it, how to assemble it. */
interface StreamKind<Chunk, Whole> {
  isFirst(record: Json): boolean;
  isFinal(record: Json): boolean;
  assemble(): { add(record: Json): void; result(final: Json): Whole };
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
  /** The server's origin. */
  readonly host: string;
  /** The base URL of every route: the origin and the path prefix the host had (`http://gateway:8080/ollama`). */
  readonly baseUrl: string;
  readonly #transport: OllamaTransport;
  readonly #policy: Policy;
  readonly #streams = new Set<() => void>();

  constructor(options: OllamaOptions = {}) {
    validateOptions('new Ollama()', options, {
      host: (value) => (typeof value === 'string' ? undefined : 'must be a string'),
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
      proxy: (value) =>
        value === false || (typeof value === 'string' && /^https?:\/\/[^\s]+$/i.test(value))
          ? undefined
          : 'must be an http: or https: URL, or false for none',
    });
    if (options.policy !== undefined && typeof options.policy.execute !== 'function') {
      throw new InvalidOptionError('new Ollama(): option "policy" must be a Bulwark policy', 'policy');
    }
    const origin = resolveHost(options.host);
    this.host = origin.origin;
    this.baseUrl = origin.href.replace(/\/$/, '');
    this.#transport = new OllamaTransport({
      origin,
      proxy: options.proxy,
      headers: checkHeaders(options.headers),
      connections: options.connections ?? 128,
      connectMs: options.connectMs,
      headersMs: options.headersMs,
      firstTokenMs: options.firstTokenMs,
      idleMs: options.idleMs,
      maxLineBytes: options.maxLineBytes ?? 8_000_000,
    });
    const policy = options.policy ?? noop();
    this.#policy = options.instrument ? options.instrument(policy) : policy;
  }

  #attributes(operation: string, model: string | undefined, request: unknown): Attributes {
    return { operation, model, host: this.host, provider: 'ollama', request };
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
    const callTimeout = resolveCallTimeout(`ollama.${operation}()`, options?.timeout);
    const channel = new Channel<T>();
    const linked = callDeadline(options?.signal, callTimeout?.totalMs);
    let attempts = 0;
    let abandoned = false;
    const body = { ...request, stream: true };
    const call = this.#policy.execute(
      async (context: Context) => {
        const attempt = attempts++;
        try {
          const whole = kind.assemble();
          const final = await this.#transport.stream(context, path, body, {
            model,
            isFirst: kind.isFirst,
            isFinal: kind.isFinal,
            deliver: (record) => {
              whole.add(record);
              channel.push(record as T, context, attempt);
            },
            backlog: () => channel.space(),
          });
          // The attempt (and a bulkhead slot, a span) lasts until the caller has read the last chunk.
          await channel.drained();
          return whole.result(final);
        } catch (error) {
          // The caller may have taken a record between the failure and here: then it is committed.
          if (!context.committed) channel.drop(attempt);
          else if (BulwarkError.is(error)) error.committed = true;
          throw error;
        }
      },
      {
        signal: linked.signal,
        attributes: this.#attributes(operation, model, request),
        ...(callTimeout && { timeout: callTimeout }),
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
  ): Promise<W> {
    const model = typeof request.model === 'string' ? request.model : undefined;
    const body = { ...request, stream: true };
    return this.#execute(
      operation,
      async (context: Context) => {
        const whole = kind.assemble();
        const final = await this.#transport.stream(context, path, body, {
          model,
          isFirst: kind.isFirst,
          isFinal: kind.isFinal,
          deliver: whole.add,
        });
        return whole.result(final);
      },
      model,
      request,
      options,
    );
  }

  /** Runs a call through the policy with the caller's signal and budgets. */
  #execute<T>(
    operation: string,
    fn: (context: Context) => Promise<T>,
    model: string | undefined,
    request: Json | undefined,
    options: CallOptions | undefined,
  ): Promise<T> {
    let callTimeout: CallTimeout | undefined;
    try {
      callTimeout = resolveCallTimeout(`ollama.${operation}()`, options?.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    const attributes = this.#attributes(operation, model, request);
    if (callTimeout === undefined) return this.#policy.execute(fn, { signal: options?.signal, attributes });
    const deadline =
      callTimeout.totalMs === undefined || callTimeout.totalMs === Number.POSITIVE_INFINITY
        ? undefined
        : callDeadline(options?.signal, callTimeout.totalMs);
    const call = this.#policy.execute(fn, {
      signal: deadline ? deadline.signal : options?.signal,
      attributes,
      timeout: callTimeout,
    });
    return deadline ? call.finally(() => deadline.clear()) : call;
  }

  #json<T>(
    operation: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    request: Json | undefined,
    options: CallOptions | undefined,
  ): Promise<T> {
    const model = typeof request?.model === 'string' ? request.model : undefined;
    return this.#execute(
      operation,
      (context: Context) => this.#transport.json(context, method, path, request, model) as Promise<T>,
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
    return request.stream === true
      ? this.#streaming(operation, path, request, kind, options)
      : this.#collect(operation, path, request, kind, options);
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
      this.#json('embed', 'POST', '/api/embed', body, options),
    );
  }

  /** The legacy single embedding. */
  embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResponse> {
    return this.#checked('embeddings', request, ['model'], (body) =>
      this.#json('embeddings', 'POST', '/api/embeddings', body, options),
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

  /** Models loaded in memory. */
  ps(options?: CallOptions): Promise<ListResponse> {
    return this.#json('ps', 'GET', '/api/ps', undefined, options);
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
    const phases = this.#transport.phaseBudgets(limits.budgets, call);
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
    await this.#transport.close();
  }
}
