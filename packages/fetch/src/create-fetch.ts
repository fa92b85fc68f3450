import {
  type Attributes,
  type Context,
  DEFAULT_CONNECTIONS,
  DEFAULT_PHASE_BUDGETS,
  InvalidOptionError,
  noop,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  ResponseError,
} from '@bulwark/core';
import {
  AttemptGuard,
  anyOf,
  budget,
  classifyBodyFailure,
  classifyRequestFailure,
  finalGuardFailure,
  func,
  integer,
  isIdempotent,
  object,
  oneOf,
  StreamLifetime,
  serverMessage,
  targetText,
  validateOptions,
} from '@bulwark/core/internal';
import { Agent, type Dispatcher, Response as UndiciResponse, fetch as undiciFetch } from 'undici';

import type { BulwarkFetch, CreateFetchOptions, RequestInfo } from './types.js';

const DEFAULTS = {
  ...DEFAULT_PHASE_BUDGETS,
  connections: DEFAULT_CONNECTIONS,
  maxErrorBodyBytes: 1_048_576,
} as const;

/** Statuses that say the server did not process the request: replayable whatever the method. */
const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([408, 429, 503]);
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);
const MAX_MODEL_SNIFF_BYTES = 1_048_576;

interface StoredResponse {
  status: number;
  statusText: string;
  headers: Headers;
  body: Uint8Array;
  url: string;
}

interface PreparedRequest {
  url: URL;
  method: string;
  headers: Headers;
  body: RequestInit['body'];
  replayableBody: boolean;
  signal: AbortSignal | undefined;
  redirect: RequestInit['redirect'];
  info: RequestInfo;
}

function isRequestLike(input: unknown): input is Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    !(input instanceof URL) &&
    'url' in input &&
    'method' in input
  );
}

/** Builds the headers; a bad one is named, its value never shown (it may be a secret). */
function toHeaders(init: RequestInit['headers'] | Headers | undefined): Headers {
  try {
    return new Headers(init);
  } catch {
    const entries: Array<[string, string]> =
      init instanceof Headers || Array.isArray(init)
        ? [...(init as Iterable<[string, string]>)]
        : Object.entries((init ?? {}) as Record<string, string>);
    for (const [name, value] of entries) {
      try {
        new Headers([[name, value]]);
      } catch {
        throw new InvalidOptionError(
          `fetch(): header ${JSON.stringify(String(name).slice(0, 60))} has an invalid name or value`,
          'headers',
        );
      }
    }
    throw new InvalidOptionError('fetch(): the headers are invalid', 'headers');
  }
}

function sniffModel(body: unknown, headers: Headers): string | undefined {
  if (typeof body !== 'string' || body.length > MAX_MODEL_SNIFF_BYTES || body[0] !== '{') return undefined;
  const type = headers.get('content-type');
  if (type && !type.includes('json')) return undefined;
  try {
    const model = (JSON.parse(body) as { model?: unknown }).model;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined;
  }
}

function safeUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

async function prepare(input: string | URL | Request, init: RequestInit): Promise<PreparedRequest> {
  const request = isRequestLike(input) ? input : undefined;
  const raw = request ? request.url : input instanceof URL ? input.href : String(input);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo credentials, even from a URL that does not parse.
    const shown = raw.replace(/\/\/[^/?#]*@/, '//***@');
    throw new InvalidOptionError(
      `fetch(): invalid URL ${JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown)}`,
      'input',
    );
  }
  if (url.username || url.password) {
    throw new InvalidOptionError(
      `fetch(): the URL ${safeUrl(url)} carries credentials; send them in a header instead`,
      'input',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError(
      `fetch(): only http: and https: URLs are supported, got ${url.protocol}`,
      'input',
    );
  }
  const method = (init.method ?? request?.method ?? 'GET').toUpperCase();
  const headers = toHeaders(init.headers ?? request?.headers);
  let body: RequestInit['body'] = init.body;
  if (body === undefined && request?.body) body = new Uint8Array(await request.arrayBuffer());
  const replayableBody = !(body instanceof ReadableStream);
  const model = sniffModel(body, headers);
  return {
    url,
    method,
    headers,
    body,
    replayableBody,
    signal: init.signal ?? request?.signal ?? undefined,
    redirect: init.redirect ?? request?.redirect,
    info: { url, method, headers, model },
  };
}

async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  guard: AttemptGuard,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await Promise.race([reader.read(), guard.failed]);
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const take = Math.min(chunk.byteLength, out.byteLength - offset);
    out.set(chunk.subarray(0, take), offset);
    offset += take;
    if (offset >= out.byteLength) break;
  }
  return out;
}

/**
 * A `fetch` that runs every request through `policy` on undici, with connect, headers, first-token
 * and idle budgets. The attempt lasts until the response body has been read, cancelled or failed,
 * so a bulkhead slot is held for a stream's life and a body cut mid-way counts as a failure.
 *
 * HTTP error statuses are errors inside the policy (so retry and breaker see them) and come back
 * out as ordinary `Response`s once the policy gives up. Other failures reject with a `BulwarkError`.
 *
 * @example
 * const fetch = createFetch({ policy: wrap(retry(), timeout({ firstTokenMs: 60_000 })) });
 * const ollama = new Ollama({ host: 'http://127.0.0.1:11434', fetch });
 */
export function createFetch(options: CreateFetchOptions = {}): BulwarkFetch {
  validateOptions('createFetch()', options, {
    policy: object,
    connectMs: budget(1),
    headersMs: budget(1),
    firstTokenMs: budget(1),
    idleMs: budget(1),
    retryNonIdempotent: anyOf(oneOf(true, false), func),
    attributes: func,
    connections: integer(1),
    dispatcher: object,
    maxErrorBodyBytes: integer(0),
  });
  if (options.policy !== undefined && typeof options.policy.execute !== 'function') {
    throw new InvalidOptionError('createFetch(): option "policy" must be a Bulwark policy', 'policy');
  }
  const policy = options.policy ?? noop();
  const connections = options.connections ?? DEFAULTS.connections;
  const maxErrorBodyBytes = options.maxErrorBodyBytes ?? DEFAULTS.maxErrorBodyBytes;
  const agents = new Map<number, Agent>();
  const errorResponses = new WeakMap<object, StoredResponse>();

  const dispatcherFor = (connectMs: number): Dispatcher => {
    if (options.dispatcher) return options.dispatcher;
    let agent = agents.get(connectMs);
    if (!agent) {
      // Bulwark's own timers enforce the headers and body budgets; undici's are set, not left implicit.
      // `Infinity` (no limit) is undici's 0.
      const connectTimeout = connectMs === Number.POSITIVE_INFINITY ? 0 : connectMs;
      agent = new Agent({
        connect: { timeout: connectTimeout },
        connections,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      agents.set(connectMs, agent);
    }
    return agent;
  };

  const replaySafeFor = (prepared: PreparedRequest): boolean => {
    if (!prepared.replayableBody) return false;
    if (isIdempotent(prepared.method, prepared.headers)) return true;
    const allow = options.retryNonIdempotent ?? false;
    return typeof allow === 'function' ? allow(prepared.info) : allow;
  };

  async function attempt(
    context: Context,
    prepared: PreparedRequest,
    replaySafe: boolean,
    handOut: (response: Response) => void,
  ): Promise<void> {
    // The origin never carries credentials; errors name it and the model.
    const target = targetText(prepared.url.origin, prepared.info.model);
    const budgets = context.budgets;
    const connectMs = budgets.connectMs ?? options.connectMs ?? DEFAULTS.connectMs;
    const guard = new AttemptGuard(context);
    guard.start('headers', budgets.headersMs ?? options.headersMs ?? DEFAULTS.headersMs);
    guard.start('first-token', budgets.firstTokenMs ?? options.firstTokenMs ?? DEFAULTS.firstTokenMs);
    const idleMs = budgets.idleMs ?? options.idleMs ?? DEFAULTS.idleMs;

    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await Promise.race([
        undiciFetch(prepared.url, {
          method: prepared.method,
          headers: prepared.headers as never,
          body: prepared.body as never,
          signal: guard.signal,
          dispatcher: dispatcherFor(connectMs),
          redirect: prepared.redirect,
          ...(prepared.body instanceof ReadableStream ? { duplex: 'half' as const } : {}),
        }),
        guard.failed,
      ]);
    } catch (error) {
      if (guard.failure !== undefined) throw finalGuardFailure(guard, replaySafe, context);
      guard.dispose();
      throw classifyRequestFailure(error, {
        replaySafe,
        connectMs,
        elapsedMs: guard.elapsedMs(),
        attempt: context.attempt,
        maxAttempts: context.maxAttempts,
        target,
      });
    }
    guard.clear('headers');

    if (response.status >= 400) {
      let body: Uint8Array;
      try {
        body = await readBounded(
          response.body as ReadableStream<Uint8Array> | null,
          maxErrorBodyBytes,
          guard,
        );
      } catch (error) {
        if (guard.failure !== undefined) throw finalGuardFailure(guard, replaySafe, context);
        guard.dispose();
        throw classifyBodyFailure(error, false, replaySafe, target);
      }
      guard.dispose();
      const headers = new Headers(response.headers as unknown as Headers);
      const error = new ResponseError({
        status: response.status,
        serverMessage: serverMessage(body, headers.get('content-type')),
        retryAfterMs: parseRetryAfter(headers.get('retry-after'), Date.now()),
        retryable:
          NOT_PROCESSED_STATUSES.has(response.status) ||
          (RETRYABLE_STATUSES.has(response.status) && replaySafe),
        model: prepared.info.model,
      });
      errorResponses.set(error, {
        status: response.status,
        statusText: response.statusText,
        headers,
        body,
        url: response.url,
      });
      throw error;
    }

    const source = response.body as ReadableStream<Uint8Array> | null;
    if (!source || NULL_BODY_STATUSES.has(response.status) || prepared.method === 'HEAD') {
      guard.dispose();
      source?.cancel().catch(() => {});
      context.commit();
      handOut(
        rebuild(
          response.status,
          response.statusText,
          response.headers as unknown as Headers,
          null,
          response.url,
        ),
      );
      return;
    }

    const reader = source.getReader();
    // The attempt lasts until the caller has read the body to its end, failed reading it, or let go.
    const lifetime = new StreamLifetime(context, (reason) => {
      guard.abandon();
      reader.cancel(reason).catch(() => {});
    });
    let first = true;
    const stream = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          guard.start('idle', idleMs);
          try {
            const { done, value } = await Promise.race([reader.read(), guard.failed]);
            guard.clear('idle');
            if (done) {
              guard.dispose();
              controller.close();
              lifetime.end();
              return;
            }
            if (first) {
              first = false;
              guard.clear('first-token');
            }
            controller.enqueue(value);
          } catch (error) {
            const failure =
              guard.failure !== undefined
                ? finalGuardFailure(guard, replaySafe, context)
                : classifyBodyFailure(error, true, replaySafe, target);
            guard.dispose();
            reader.cancel().catch(() => {});
            controller.error(failure);
            lifetime.fail(failure);
          }
        },
        cancel(reason) {
          lifetime.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    // The response reaching the caller commits the attempt: its body is never replayed.
    lifetime.delivered();
    handOut(
      rebuild(
        response.status,
        response.statusText,
        response.headers as unknown as Headers,
        stream,
        response.url,
      ),
    );
    return lifetime.done;
  }

  const bulwarkFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const prepared = await prepare(input, init);
    const replaySafe = replaySafeFor(prepared);
    const attributes: Attributes = {
      operation: 'fetch',
      host: prepared.url.origin,
      method: prepared.method,
      ...(prepared.info.model === undefined ? {} : { model: prepared.info.model }),
      ...options.attributes?.(prepared.info),
    };
    let delivered = false;
    let deliver!: (response: Response) => void;
    const handedOut = new Promise<Response>((resolve) => {
      deliver = (response) => {
        delivered = true;
        resolve(response);
      };
    });
    const call = policy.execute((context) => attempt(context, prepared, replaySafe, deliver), {
      signal: prepared.signal,
      attributes,
    });
    // After the response was handed out, failures reach the caller through its body.
    const settled = call.then(
      () => handedOut,
      (error: unknown) => {
        if (delivered) return handedOut;
        throw error;
      },
    );
    try {
      return await Promise.race([handedOut, settled]);
    } catch (error) {
      const stored = typeof error === 'object' && error !== null ? errorResponses.get(error) : undefined;
      if (stored) return rebuild(stored.status, stored.statusText, stored.headers, stored.body, stored.url);
      throw error;
    }
  };

  return Object.assign(bulwarkFetch, {
    async close(): Promise<void> {
      const owned = [...agents.values()];
      agents.clear();
      await Promise.all(owned.map((agent) => agent.destroy()));
    },
  });
}

function rebuild(
  status: number,
  statusText: string,
  headers: Headers,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  url: string,
): Response {
  const response = new UndiciResponse(NULL_BODY_STATUSES.has(status) ? null : (body as never), {
    status,
    statusText,
    headers: headers as never,
  }) as unknown as Response;
  Object.defineProperty(response, 'url', { value: url });
  return response;
}
