import { constants } from 'node:buffer';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  AttemptGuard,
  type Context,
  classifyBodyFailure,
  classifyRequestFailure,
  ProtocolError,
  parseRetryAfter,
  ResponseError,
  StreamError,
} from '@bulwark/core';
import { Agent, type Dispatcher, request } from 'undici';
import { LineReader } from './line-reader.js';

/** Defaults of the phase budgets, used when neither the client nor a `timeout()` sets one. */
export const DEFAULT_BUDGETS = {
  connectMs: 10_000,
  headersMs: 300_000,
  firstTokenMs: 300_000,
  idleMs: 60_000,
} as const;

/** undici's own timers back ours up, a little later, so that ours fire first and name the phase. */
const BACKSTOP_SLACK_MS = 2_000;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/**
 * A plain JSON answer (list, show, embed…) is read whole, as the official clients do: a large embed
 * batch easily passes `maxLineBytes`. It is bounded only by the longest string V8 can make.
 */
const MAX_JSON_BODY_BYTES = constants.MAX_STRING_LENGTH;

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

export interface StreamHandlers {
  model: string | undefined;
  /** Whether a record is first output (content, thinking, a tool call, progress). */
  isFirst(record: Record<string, unknown>): boolean;
  /** Whether a record is the last one (`done: true`, `status: "success"`). */
  isFinal(record: Record<string, unknown>): boolean;
  /** Hands a record on; a promise means "wait, the reader is behind". */
  deliver(record: Record<string, unknown>): void | Promise<void>;
}

type ResponseData = Dispatcher.ResponseData;

interface Budgets {
  connectMs: number;
  headersMs: number;
  firstTokenMs: number;
  idleMs: number;
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

  constructor(options: TransportOptions) {
    this.#options = options;
    this.origin = options.origin;
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

  async #send(
    context: Context,
    guard: AttemptGuard,
    method: 'GET' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    body: unknown,
    model: string | undefined,
    budgets: Budgets,
  ): Promise<ResponseData> {
    guard.start('headers', budgets.headersMs);
    let response: ResponseData;
    try {
      response = await Promise.race([
        request(new URL(path, this.origin), {
          method,
          headers: this.#headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          dispatcher: this.#agent(budgets.connectMs),
          signal: guard.signal,
          headersTimeout: Math.min(budgets.headersMs, context.remainingMs()) + BACKSTOP_SLACK_MS,
          bodyTimeout: budgets.idleMs + BACKSTOP_SLACK_MS,
        }),
        guard.failed,
      ]);
    } catch (error) {
      if (guard.failure !== undefined) throw guard.failure;
      guard.dispose();
      throw classifyRequestFailure(error, {
        replaySafe: true,
        connectMs: budgets.connectMs,
        elapsedMs: guard.elapsedMs(),
        attempt: context.attempt,
        maxAttempts: context.maxAttempts,
      });
    }
    guard.clear('headers');
    if (response.statusCode >= 400) throw await this.#statusError(response, guard, model);
    return response;
  }

  async #statusError(response: ResponseData, guard: AttemptGuard, model: string | undefined): Promise<Error> {
    let text = '';
    try {
      text = await readText(response, guard, MAX_ERROR_BODY_BYTES, 'truncate');
    } catch {
      if (guard.failure !== undefined) return guard.failure as Error;
    }
    guard.dispose();
    const header = response.headers['retry-after'];
    return new ResponseError({
      status: response.statusCode,
      serverMessage: errorText(text, String(response.headers['content-type'] ?? '')),
      retryAfterMs: parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now()),
      model,
    });
  }

  /**
   * One streamed attempt: sends `body` (which asks for a stream), hands every record to
   * `handlers.deliver` and resolves with the final record once the stream ended with it.
   */
  async stream(
    context: Context,
    path: string,
    body: unknown,
    handlers: StreamHandlers,
  ): Promise<Record<string, unknown>> {
    const guard = new AttemptGuard(context);
    const budgets = this.#budgets(context);
    guard.start('first-token', budgets.firstTokenMs);
    const response = await this.#send(context, guard, 'POST', path, body, handlers.model, budgets);
    const type = String(response.headers['content-type'] ?? '');
    if (type !== '' && !type.includes('json')) {
      const text = await readText(response, guard, 256, 'truncate').catch(() => '');
      guard.dispose();
      throw new ProtocolError(
        `Expected an NDJSON stream but the server sent ${type.split(';')[0]} (status ${response.statusCode})${text ? `: ${errorText(text, type)}` : ''}`,
      );
    }
    const reader = new LineReader(this.#options.maxLineBytes);
    const records: Record<string, unknown>[] = [];
    const collect = (record: unknown) => {
      records.push(record as Record<string, unknown>);
    };
    let final: Record<string, unknown> | undefined;
    let first = true;
    /** Hands on the records read so far; a promise only when the caller is behind. */
    const handle = (from = 0): Promise<void> | undefined => {
      for (let i = from; i < records.length; i++) {
        const record = records[i] as Record<string, unknown>;
        if (typeof record.error === 'string') {
          throw new StreamError({
            serverMessage: record.error,
            model: handlers.model,
            committed: context.committed,
          });
        }
        if (first && handlers.isFirst(record)) {
          first = false;
          guard.clear('first-token');
        }
        if (handlers.isFinal(record)) final = record;
        const waiting = handlers.deliver(record);
        if (waiting) {
          // The caller is behind: that is not the server's silence.
          guard.clear('idle');
          return Promise.race([waiting, guard.failed]).then(() => handle(i + 1));
        }
      }
      records.length = 0;
      return undefined;
    };
    try {
      guard.start('idle', budgets.idleMs);
      for await (const chunk of decoded(response)) {
        reader.push(chunk as Uint8Array, collect);
        if (records.length > 0) {
          const waiting = handle();
          if (waiting) await waiting;
        }
        // Waiting for the next chunk: the server's silence from here on counts.
        guard.start('idle', budgets.idleMs);
      }
      guard.clear('idle');
      reader.end(collect);
      const waiting = handle();
      if (waiting) await waiting;
    } catch (error) {
      if (guard.failure !== undefined) throw guard.failure;
      guard.dispose();
      response.body.destroy();
      if (error instanceof StreamError) throw error;
      if (error instanceof ProtocolError) {
        throw new ProtocolError(error.message, { cause: error.cause, committed: context.committed });
      }
      throw classifyBodyFailure(error, context.committed, true);
    }
    guard.dispose();
    if (!final) {
      throw new ProtocolError('The stream ended without its final line ("done": true)', {
        committed: context.committed,
        retryable: !context.committed,
      });
    }
    return final;
  }

  /** One attempt of a plain JSON call (list, show, embed…). An empty body is `undefined` for copy and delete, a `ProtocolError` elsewhere. */
  async json(
    context: Context,
    method: 'GET' | 'POST' | 'DELETE' | 'HEAD',
    path: string,
    body: unknown,
    model: string | undefined,
  ): Promise<unknown> {
    const guard = new AttemptGuard(context);
    const budgets = this.#budgets(context);
    const response = await this.#send(context, guard, method, path, body, model, budgets);
    let text: string;
    try {
      guard.start('idle', budgets.idleMs);
      text = await readText(response, guard, MAX_JSON_BODY_BYTES, 'fail', () =>
        guard.start('idle', budgets.idleMs),
      );
    } catch (error) {
      if (guard.failure !== undefined) throw guard.failure;
      guard.dispose();
      if (error instanceof ProtocolError) throw error;
      throw classifyBodyFailure(error, false, true);
    }
    guard.dispose();
    if (text.trim() === '') {
      // Only copy and delete answer with an empty body.
      if (method === 'DELETE' || path === '/api/copy') return undefined;
      throw new ProtocolError(`The server answered ${path} with an empty body`);
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new ProtocolError(`The server answered ${path} with a body that is not JSON`, { cause });
    }
  }

  /** Destroys every connection at once. */
  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((agent) => agent.destroy()));
  }
}

function decoded(response: ResponseData): AsyncIterable<Uint8Array> {
  const encoding = String(response.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding !== 'gzip' && encoding !== 'x-gzip') return response.body;
  // pipeline, not pipe: a body that fails (reset, our abort) must fail the gunzip stream we read,
  // and a gunzip stream we stop reading must destroy the body.
  return pipeline(response.body, createGunzip(), () => {});
}

/**
 * Reads a body as text. Past `limit` bytes it either keeps the start (`truncate`, for error pages)
 * or fails with a `ProtocolError` (`fail`).
 */
async function readText(
  response: ResponseData,
  guard: AttemptGuard,
  limit: number,
  overLimit: 'truncate' | 'fail',
  onChunk?: () => void,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of decoded(response)) {
    onChunk?.();
    size += (chunk as Buffer).length;
    if (size > limit) {
      response.body.destroy();
      if (overLimit === 'fail') throw new ProtocolError(`The answer exceeded ${limit} bytes`);
      chunks.push((chunk as Buffer).subarray(0, (chunk as Buffer).length - (size - limit)));
      break;
    }
    chunks.push(chunk as Buffer);
    if (guard.failure !== undefined) break;
  }
  if (guard.failure !== undefined) throw guard.failure;
  return Buffer.concat(chunks).toString('utf8');
}

/** The server's error text: `{"error":"…"}`, or the start of a text or HTML body. */
function errorText(text: string, contentType: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (contentType.includes('json') || trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { error?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
    } catch {
      // not JSON after all
    }
  }
  const flat = trimmed
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > 200 ? `${flat.slice(0, 197)}...` : flat;
}
