import { constants } from 'node:buffer';
import { createGunzip, type Gunzip } from 'node:zlib';
import { type Context, ProtocolError, parseRetryAfter, ResponseError, StreamError } from '@bulwark/core';
import {
  type AttemptGuard,
  classifyBodyFailure,
  classifyRequestFailure,
  serverMessage,
  targetText,
} from '@bulwark/core/internal';
import type { Dispatcher } from 'undici';
import { LineReader } from './line-reader.js';

type Json = Record<string, unknown>;
type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface StreamHandlers {
  model: string | undefined;
  /** Whether a record is first output (content, thinking, a tool call, progress). */
  isFirst(record: Json): boolean;
  /** Whether a record is the last one (`done: true`, `status: "success"`). */
  isFinal(record: Json): boolean;
  /** Hands a record on. */
  deliver(record: Json): void;
  /** After a chunk's records: a promise when the reader is behind, to hold the socket until it caught up. */
  backlog?(): Promise<void> | undefined;
}

/** The phase budgets in force for one attempt, defaults applied. */
export interface Budgets {
  connectMs: number;
  headersMs: number;
  firstTokenMs: number;
  idleMs: number;
}

/** What one exchange does with a successful answer's body. */
export type Reading =
  | { kind: 'records'; handlers: StreamHandlers; maxLineBytes: number }
  | { kind: 'json'; method: string; path: string };

export interface ExchangeOptions {
  context: Context;
  guard: AttemptGuard;
  budgets: Budgets;
  model: string | undefined;
  reading: Reading;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_MISMATCH_BODY_BYTES = 256;
/**
 * A plain JSON answer (list, show, embed…) is read whole, as the official clients do: a large embed
 * batch easily passes `maxLineBytes`. It is bounded only by the longest string V8 can make.
 */
const MAX_JSON_BODY_BYTES = constants.MAX_STRING_LENGTH;
const ABORTED = 'aborted by Bulwark';

/** Collects a body as text up to a bound. */
class TextBody {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Adds a chunk; false once the bound was reached (the part past it is dropped). */
  add(chunk: Buffer): boolean {
    const room = this.limit - this.#size;
    if (chunk.length > room) {
      this.#chunks.push(chunk.subarray(0, room));
      this.#size = this.limit;
      return false;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    return true;
  }

  text(): string {
    return this.#chunks.length === 1
      ? (this.#chunks[0] as Buffer).toString('utf8')
      : Buffer.concat(this.#chunks, this.#size).toString('utf8');
  }
}

/**
 * One attempt as an undici dispatch handler: the response is read as it arrives, without a
 * Readable stream in between. NDJSON records reach `deliver` in the same turn as their bytes; a
 * caller who is behind pauses the socket. The guard's timers and the caller's abort end the
 * exchange at once, even while the request waits in the pool for a connection.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<unknown>;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  #done = false;
  readonly #options: ExchangeOptions;
  readonly #handlers: StreamHandlers | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #contentType = '';
  #retryAfter: string | undefined;
  /** What the body is read as, decided by the response's status and type. */
  #body: 'records' | 'json' | 'status-error' | 'not-ndjson' | undefined;
  #text: TextBody | undefined;
  #gunzip: Gunzip | undefined;
  #zlibFull = false;
  #reader: LineReader | undefined;
  #behind = false;
  #first = true;
  #final: Json | undefined;
  readonly #onRecord = (record: unknown) => this.#deliver(record as Json);
  /** The server and model every error of this exchange names. */
  readonly #target: string | undefined;

  constructor(options: ExchangeOptions) {
    this.#options = options;
    this.#handlers = options.reading.kind === 'records' ? options.reading.handlers : undefined;
    this.#target = targetText(options.context.attributes.host, options.model);
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    options.guard.onFail((error) => this.#settle(error, true));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Failed while the request waited for a connection: it is never sent.
    if (this.#done) controller.abort(new Error(ABORTED));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
  ): void {
    if (this.#done || statusCode < 200) return;
    const { guard, budgets, reading } = this.#options;
    guard.clear('headers');
    this.#status = statusCode;
    this.#contentType = first(headers['content-type']) ?? '';
    if (statusCode >= 400) {
      this.#retryAfter = first(headers['retry-after']);
      this.#body = 'status-error';
      this.#text = new TextBody(MAX_ERROR_BODY_BYTES);
    } else if (reading.kind === 'json') {
      this.#body = 'json';
      this.#text = new TextBody(MAX_JSON_BODY_BYTES);
    } else if (this.#contentType !== '' && !this.#contentType.includes('json')) {
      this.#body = 'not-ndjson';
      this.#text = new TextBody(MAX_MISMATCH_BODY_BYTES);
    } else {
      this.#body = 'records';
      this.#reader = new LineReader(reading.maxLineBytes);
    }
    guard.start('idle', budgets.idleMs);
    const encoding = first(headers['content-encoding'])?.toLowerCase();
    if (encoding === 'gzip' || encoding === 'x-gzip') this.#startGunzip();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return;
    // The server's silence counts from the last byte it sent (not while the caller is behind).
    if (!this.#behind) this.#options.guard.start('idle', this.#options.budgets.idleMs);
    const gunzip = this.#gunzip;
    if (!gunzip) {
      this.#take(chunk);
    } else if (!gunzip.write(chunk)) {
      this.#zlibFull = true;
      controller.pause();
      gunzip.once('drain', () => {
        this.#zlibFull = false;
        this.#resumeSocket();
      });
    }
  }

  onResponseEnd(): void {
    if (this.#done) return;
    if (this.#gunzip) this.#gunzip.end();
    else this.#bodyEnded();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#done) return;
    this.#failed(error);
  }

  #startGunzip(): void {
    const gunzip = createGunzip();
    this.#gunzip = gunzip;
    gunzip.on('data', (chunk: Buffer) => this.#take(chunk));
    gunzip.on('end', () => this.#bodyEnded());
    gunzip.on('error', (error) => this.#failed(error));
  }

  /** Decoded bytes of the body. */
  #take(chunk: Buffer): void {
    if (this.#done) return;
    try {
      if (this.#reader) {
        this.#reader.push(chunk, this.#onRecord);
        if (!this.#behind) this.#holdIfBehind();
        return;
      }
      const text = this.#text as TextBody;
      if (!text.add(chunk)) {
        if (this.#body === 'json')
          throw new ProtocolError(`The answer exceeded ${text.limit} bytes${this.#at()}`);
        // An error page is kept only in part: stop reading it.
        this.#bodyEnded();
      }
    } catch (error) {
      this.#settle(this.#mapBodyError(error), true);
    }
  }

  #deliver(record: Json): void {
    const handlers = this.#handlers as StreamHandlers;
    if (typeof record.error === 'string') {
      throw new StreamError({
        serverMessage: record.error,
        model: this.#options.model,
        host: this.#options.context.attributes.host,
        committed: this.#options.context.committed,
      });
    }
    if (this.#first && handlers.isFirst(record)) {
      this.#first = false;
      this.#options.guard.clear('first-token');
      this.#options.context.firstChunk();
    }
    if (handlers.isFinal(record)) this.#final = record;
    handlers.deliver(record);
  }

  /** The caller is behind: hold the socket, and do not count the wait as the server's silence. */
  #holdIfBehind(): void {
    const waiting = this.#handlers?.backlog?.();
    if (!waiting) return;
    this.#behind = true;
    this.#options.guard.clear('idle');
    this.#controller?.pause();
    this.#gunzip?.pause();
    waiting.then(() => this.#catchUp());
  }

  /** The caller caught up: read on. */
  #catchUp(): void {
    this.#behind = false;
    if (this.#done) return;
    this.#options.guard.start('idle', this.#options.budgets.idleMs);
    this.#gunzip?.resume();
    this.#resumeSocket();
  }

  #resumeSocket(): void {
    if (!this.#done && !this.#behind && !this.#zlibFull) this.#controller?.resume();
  }

  /** The whole body was read (or all of it that is kept). */
  #bodyEnded(): void {
    if (this.#done) return;
    const { guard, reading } = this.#options;
    guard.clear('idle');
    switch (this.#body) {
      case 'status-error':
        this.#settle(this.#statusError(), true);
        return;
      case 'not-ndjson':
        this.#settle(this.#notNdjson((this.#text as TextBody).text()), true);
        return;
      case 'json': {
        const { method, path } = reading as { method: string; path: string };
        const text = (this.#text as TextBody).text();
        if (text.trim() === '') {
          // Only copy and delete answer with an empty body.
          if (method === 'DELETE' || path === '/api/copy') this.#settle(undefined, false);
          else
            this.#settle(
              new ProtocolError(`The server answered ${path} with an empty body${this.#at()}`),
              true,
            );
          return;
        }
        try {
          this.#settle(JSON.parse(text), false);
        } catch (cause) {
          this.#settle(
            new ProtocolError(`The server answered ${path} with a body that is not JSON${this.#at()}`, {
              cause,
            }),
            true,
          );
        }
        return;
      }
      default:
        try {
          (this.#reader as LineReader).end(this.#onRecord);
        } catch (error) {
          this.#settle(this.#mapBodyError(error), true);
          return;
        }
        this.#complete();
    }
  }

  #complete(): void {
    const { context } = this.#options;
    if (this.#final) {
      this.#settle(this.#final, false);
      return;
    }
    this.#settle(
      new ProtocolError(`The stream ended without its final line ("done": true)${this.#at()}`, {
        committed: context.committed,
        retryable: !context.committed,
      }),
      true,
    );
  }

  #statusError(): Error {
    return new ResponseError({
      status: this.#status,
      serverMessage: serverMessage((this.#text as TextBody).text(), this.#contentType),
      retryAfterMs: parseRetryAfter(this.#retryAfter, Date.now()),
      model: this.#options.model,
      host: this.#options.context.attributes.host,
    });
  }

  #notNdjson(text: string): Error {
    const type = this.#contentType;
    return new ProtocolError(
      `Expected an NDJSON stream but the server sent ${type.split(';')[0]} (status ${this.#status})${text ? `: ${serverMessage(text, type)}` : ''}${this.#at()}`,
    );
  }

  /** undici or zlib failed. */
  #failed(error: unknown): void {
    const { guard, context, budgets } = this.#options;
    if (guard.failure !== undefined) {
      this.#settle(guard.failure, true);
    } else if (this.#body === undefined) {
      this.#settle(
        classifyRequestFailure(error, {
          replaySafe: true,
          connectMs: budgets.connectMs,
          elapsedMs: guard.elapsedMs(),
          attempt: context.attempt,
          maxAttempts: context.maxAttempts,
          target: this.#target,
        }),
        true,
      );
    } else if (this.#body === 'status-error') {
      // The status says what went wrong; keep what arrived of its body.
      this.#settle(this.#statusError(), true);
    } else if (this.#body === 'not-ndjson') {
      this.#settle(this.#notNdjson(''), true);
    } else {
      this.#settle(this.#mapBodyError(error), true);
    }
  }

  #mapBodyError(error: unknown): unknown {
    const committed = this.#options.context.committed;
    if (error instanceof StreamError) return error;
    if (error instanceof ProtocolError) {
      return this.#body === 'records'
        ? new ProtocolError(`${error.message}${this.#at()}`, { cause: error.cause, committed })
        : error;
    }
    return classifyBodyFailure(error, this.#body === 'records' && committed, true, this.#target);
  }

  /** `: http://host:port, model "name"` for a message. */
  #at(): string {
    return this.#target ? `: ${this.#target}` : '';
  }

  /** Ends the exchange once: frees the guard, stops the request if it still runs, and settles. */
  #settle(value: unknown, failed: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#options.guard.dispose();
    if (failed) {
      this.#controller?.abort(new Error(ABORTED));
      this.#gunzip?.destroy();
      this.#reject(value);
    } else {
      this.#resolve(value);
    }
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
