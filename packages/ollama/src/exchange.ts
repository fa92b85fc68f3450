import { AssertionError } from 'node:assert';
import { constants } from 'node:buffer';
import { createGunzip, type Gunzip } from 'node:zlib';
import { type Context, ProtocolError, parseRetryAfter, ResponseError, StreamError } from '@bulwark/core';
import {
  type AttemptGuard,
  classifyBodyFailure,
  classifyRequestFailure,
  hostAttribute,
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
  /** Who reads the records handed over, when it can fall behind (a stream's `Channel`). */
  consumer?: StreamConsumer;
}

/** How far behind the reader of a stream's records is. */
export interface StreamConsumer {
  /**
   * After a chunk's records: `none` when the reader has taken them all, `some` when some wait
   * unread, `full` when so many wait that the socket must be held.
   */
  backlog(): 'none' | 'some' | 'full';
  /** Settles once the reader has taken every record handed over (or the stream ended). */
  emptied(): Promise<void>;
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

/** Where an exchange stands. */
type State = 'waiting' | 'reading' | 'succeeded' | 'failed';

/** What can happen to an exchange: undici's callbacks, the decoder's, the guard's and the reader's. */
type ExchangeEvent =
  | 'request-start'
  | 'response-start'
  | 'data'
  | 'end'
  | 'error'
  | 'decoded'
  | 'guard-failed'
  | 'caught-up';

/** `run`: handle the event; `ignore`: an expected echo of an ending (see the table in the header). */
type Action = 'run' | 'ignore';

/** The state table of {@link Exchange}, as code: an event missing from its row is a bug. */
const ACCEPTS: Readonly<Record<ExchangeEvent, Partial<Readonly<Record<State, Action>>>>> = {
  'request-start': { waiting: 'run', failed: 'run' },
  'response-start': { waiting: 'run' },
  data: { reading: 'run' },
  end: { reading: 'run' },
  error: { waiting: 'run', reading: 'run', failed: 'ignore' },
  decoded: { reading: 'run', failed: 'ignore' },
  'guard-failed': { waiting: 'run', reading: 'run' },
  'caught-up': { reading: 'run', succeeded: 'ignore', failed: 'ignore' },
};

/** Why an exchange failed; {@link Exchange} turns each into the error the attempt rejects with, in one place. */
type Failure =
  /** A budget fired or the caller's signal aborted: the guard's own error. */
  | { kind: 'guard' }
  /** undici or the decoder failed (connection refused or reset, a bad gzip body…). */
  | { kind: 'transport'; error: unknown }
  /** The body broke a rule while it was read: a line too long or not JSON, an error record, a JSON answer too large. */
  | { kind: 'body'; error: unknown }
  /** The status was 400 or more: the error names it with the server's text. */
  | { kind: 'status' }
  /** A stream was asked for and another type came. */
  | { kind: 'not-ndjson' }
  /** A JSON answer was empty where one is required. */
  | { kind: 'empty' }
  /** A JSON answer did not parse. */
  | { kind: 'not-json'; error: unknown }
  /** A stream ended without its final record. */
  | { kind: 'no-final' };

/**
 * One attempt as an undici dispatch handler: the response is read as it arrives, without a
 * Readable stream in between. NDJSON records reach `deliver` in the same turn as their bytes; a
 * caller who is behind pauses the socket. The guard's timers and the caller's abort end the
 * exchange at once, even while the request waits in the pool for a connection.
 *
 * Its lifecycle, every transition in {@link Exchange.#accept} (the table `ACCEPTS`),
 * {@link Exchange.#read} and {@link Exchange.#settle}:
 *
 * | state     | event                                   | next      | what happens                                   |
 * | --------- | --------------------------------------- | --------- | ---------------------------------------------- |
 * | waiting   | request-start (undici took the request) | waiting   | keep its controller                            |
 * | waiting   | response-start, 1xx                     | waiting   | informational: wait for the final head         |
 * | waiting   | response-start, final                   | reading   | pick the body: records, json, status-error or not-ndjson; headers budget off, idle on |
 * | waiting   | error                                   | failed    | the request never got an answer (connect, reset) |
 * | waiting   | guard-failed                            | failed    | a budget or the caller's abort; the request, once undici takes it, is aborted |
 * | reading   | data, decoded                           | reading   | records to `deliver`, text to its bounded buffer; records unread stop the idle budget, a full channel pauses the socket |
 * | reading   | caught-up                               | reading   | the caller read every record: idle budget on, resume the socket |
 * | reading   | end (or the decoder's end)              | succeeded | the final record, or the parsed JSON           |
 * | reading   | end, bad answer                         | failed    | status-error, not-ndjson, empty or bad JSON, no final record |
 * | reading   | error, guard-failed, a bad record       | failed    |                                                |
 * | failed    | request-start                           | failed    | failed while waiting for a connection: abort the request unsent |
 * | failed    | error, decoded                          | failed    | ignored: the echo of the abort (undici) or of the destroyed decoder |
 * | succeeded, failed | caught-up                       | same      | ignored: the caller caught up after the end    |
 *
 * Any other event in a state is a bug: it throws an `AssertionError` (undici reports it as the
 * request's error). `succeeded` and `failed` are final: the promise settles once, the guard is
 * disposed, and a failure aborts the request and destroys the decoder.
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<unknown>;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  #state: State = 'waiting';
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
  /** Records wait unread by the caller: the server's silence does not count meanwhile. */
  #behind = false;
  /** So many records wait that the socket is paused until the caller has read them. */
  #held = false;
  #first = true;
  #final: Json | undefined;
  readonly #onRecord = (record: unknown) => this.#deliver(record as Json);
  /** The server and model every error of this exchange names. */
  readonly #target: string | undefined;
  /** The server every error of this exchange carries as its `host`. */
  readonly #host: string | undefined;

  constructor(options: ExchangeOptions) {
    this.#options = options;
    this.#handlers = options.reading.kind === 'records' ? options.reading.handlers : undefined;
    this.#target = targetText(options.context.attributes.host, options.model);
    this.#host = hostAttribute(options.context.attributes);
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    options.guard.onFail(() => {
      if (this.#accept('guard-failed')) this.#fail({ kind: 'guard' });
    });
  }

  /** The state, for tests of the table. */
  get state(): State {
    return this.#state;
  }

  /**
   * Whether `event` is handled in the current state (`false`: an expected echo, ignored). An event
   * the table does not allow is a bug, and throws.
   */
  #accept(event: ExchangeEvent): boolean {
    const action = ACCEPTS[event][this.#state];
    if (action === undefined)
      throw new AssertionError({
        message: `Exchange: event "${event}" cannot happen in state "${this.#state}"`,
      });
    return action === 'run';
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (!this.#accept('request-start')) return;
    this.#controller = controller;
    // Failed while the request waited for a connection: it is never sent.
    if (this.#state === 'failed') controller.abort(new Error(ABORTED));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
  ): void {
    if (!this.#accept('response-start') || statusCode < 200) return;
    this.#read(statusCode, headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#accept('data')) return;
    // The server's silence counts from the last byte it sent (not while records wait unread).
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
    if (!this.#accept('end')) return;
    if (this.#gunzip) this.#gunzip.end();
    else this.#bodyEnded();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (!this.#accept('error')) return;
    this.#fail({ kind: 'transport', error });
  }

  /** waiting → reading: the final response head decides what the body is read as. */
  #read(statusCode: number, headers: ResponseHeaders): void {
    const { guard, budgets, reading } = this.#options;
    this.#state = 'reading';
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

  #startGunzip(): void {
    const gunzip = createGunzip();
    this.#gunzip = gunzip;
    gunzip.on('data', (chunk: Buffer) => {
      if (this.#accept('decoded')) this.#take(chunk);
    });
    gunzip.on('end', () => {
      if (this.#accept('decoded')) this.#bodyEnded();
    });
    gunzip.on('error', (error) => {
      if (this.#accept('decoded')) this.#fail({ kind: 'transport', error });
    });
  }

  /** Decoded bytes of the body (state `reading`). */
  #take(chunk: Buffer): void {
    try {
      if (this.#reader) {
        this.#reader.push(chunk, this.#onRecord);
        if (this.#state === 'reading') this.#holdIfBehind();
        return;
      }
      const text = this.#text as TextBody;
      if (!text.add(chunk)) {
        if (this.#body === 'json')
          throw new ProtocolError(`The answer exceeded ${text.limit} bytes${this.#at()}`, {
            host: this.#host,
          });
        // An error page is kept only in part: stop reading it.
        this.#bodyEnded();
      }
    } catch (error) {
      this.#fail({ kind: 'body', error });
    }
  }

  #deliver(record: Json): void {
    // A record the line reader had split off before the exchange failed goes nowhere.
    if (this.#state !== 'reading') return;
    const handlers = this.#handlers as StreamHandlers;
    if (typeof record.error === 'string') {
      throw new StreamError({
        serverMessage: record.error,
        model: this.#options.model,
        host: this.#host,
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

  /**
   * Records wait unread: the server's silence does not count until the caller has read them all
   * (the idle budget is the caller's wait for the next record), and past the channel's high-water
   * mark the socket is held, so that TCP holds the server back.
   */
  #holdIfBehind(): void {
    const consumer = this.#handlers?.consumer;
    if (consumer === undefined) return;
    const backlog = consumer.backlog();
    if (backlog === 'none') return;
    if (!this.#behind) {
      this.#behind = true;
      this.#options.guard.clear('idle');
      consumer.emptied().then(() => this.#catchUp());
    }
    if (backlog === 'full' && !this.#held) {
      this.#held = true;
      this.#controller?.pause();
      this.#gunzip?.pause();
    }
  }

  /** The caller has read every record: the server's silence counts again, and the socket reads on. */
  #catchUp(): void {
    this.#behind = false;
    const held = this.#held;
    this.#held = false;
    if (!this.#accept('caught-up')) return;
    this.#options.guard.start('idle', this.#options.budgets.idleMs);
    if (held) {
      this.#gunzip?.resume();
      this.#resumeSocket();
    }
  }

  #resumeSocket(): void {
    if (this.#state === 'reading' && !this.#held && !this.#zlibFull) this.#controller?.resume();
  }

  /** reading → succeeded or failed: the whole body was read (or all of it that is kept). */
  #bodyEnded(): void {
    const { guard, reading } = this.#options;
    guard.clear('idle');
    switch (this.#body) {
      case 'status-error':
        this.#fail({ kind: 'status' });
        return;
      case 'not-ndjson':
        this.#fail({ kind: 'not-ndjson' });
        return;
      case 'json': {
        const { method, path } = reading as { method: string; path: string };
        const text = (this.#text as TextBody).text();
        if (text.trim() === '') {
          // Only copy and delete answer with an empty body.
          if (method === 'DELETE' || path === '/api/copy') this.#settle('succeeded', undefined);
          else this.#fail({ kind: 'empty' });
          return;
        }
        let answer: unknown;
        try {
          answer = JSON.parse(text);
        } catch (error) {
          this.#fail({ kind: 'not-json', error });
          return;
        }
        this.#settle('succeeded', answer);
        return;
      }
      default:
        try {
          (this.#reader as LineReader).end(this.#onRecord);
        } catch (error) {
          this.#fail({ kind: 'body', error });
          return;
        }
        if (this.#state !== 'reading') return;
        if (this.#final) this.#settle('succeeded', this.#final);
        else this.#fail({ kind: 'no-final' });
    }
  }

  #fail(failure: Failure): void {
    this.#settle('failed', this.#error(failure));
  }

  /** The error the attempt rejects with, for every way an exchange fails. */
  #error(failure: Failure): unknown {
    const { guard, context, budgets, reading } = this.#options;
    const committed = context.committed;
    switch (failure.kind) {
      case 'guard':
        return guard.failure;
      case 'transport': {
        // A budget that fired first names the phase, whatever undici made of the abort.
        if (guard.failure !== undefined) return guard.failure;
        switch (this.#body) {
          case undefined:
            return classifyRequestFailure(failure.error, {
              replaySafe: true,
              connectMs: budgets.connectMs,
              elapsedMs: guard.elapsedMs(),
              attempt: context.attempt,
              maxAttempts: context.maxAttempts,
              target: this.#target,
              host: this.#host,
            });
          // The status says what went wrong; keep what arrived of its body.
          case 'status-error':
            return this.#error({ kind: 'status' });
          case 'not-ndjson':
            return this.#notNdjson('');
          default:
            return this.#error({ kind: 'body', error: failure.error });
        }
      }
      case 'body': {
        const { error } = failure;
        if (error instanceof StreamError) return error;
        if (error instanceof ProtocolError) {
          return this.#body === 'records'
            ? new ProtocolError(`${error.message}${this.#at()}`, {
                cause: error.cause,
                committed,
                host: this.#host,
              })
            : error;
        }
        return classifyBodyFailure(
          error,
          this.#body === 'records' && committed,
          true,
          this.#target,
          this.#host,
        );
      }
      case 'status':
        return new ResponseError({
          status: this.#status,
          serverMessage: serverMessage((this.#text as TextBody).text(), this.#contentType),
          retryAfterMs: parseRetryAfter(this.#retryAfter, Date.now()),
          model: this.#options.model,
          host: this.#host,
        });
      case 'not-ndjson':
        return this.#notNdjson((this.#text as TextBody).text());
      case 'empty':
        return new ProtocolError(
          `The server answered ${(reading as { path: string }).path} with an empty body${this.#at()}`,
          { host: this.#host },
        );
      case 'not-json':
        return new ProtocolError(
          `The server answered ${(reading as { path: string }).path} with a body that is not JSON${this.#at()}`,
          { cause: failure.error, host: this.#host },
        );
      case 'no-final':
        return new ProtocolError(`The stream ended without its final line ("done": true)${this.#at()}`, {
          committed,
          retryable: !committed,
          host: this.#host,
        });
    }
  }

  #notNdjson(text: string): Error {
    const type = this.#contentType;
    return new ProtocolError(
      `Expected an NDJSON stream but the server sent ${type.split(';')[0]} (status ${this.#status})${text ? `: ${serverMessage(text, type)}` : ''}${this.#at()}`,
      { host: this.#host },
    );
  }

  /** `: http://host:port, model "name"` for a message. */
  #at(): string {
    return this.#target ? `: ${this.#target}` : '';
  }

  /**
   * waiting or reading → succeeded or failed, once: frees the guard, stops the request if it still
   * runs, and settles.
   */
  #settle(to: 'succeeded' | 'failed', value: unknown): void {
    const from = this.#state;
    if (from !== 'waiting' && from !== 'reading')
      throw new AssertionError({ message: `Exchange: cannot become "${to}" from "${from}"` });
    if (to === 'succeeded' && from !== 'reading')
      throw new AssertionError({ message: 'Exchange: succeeded before the response was read' });
    this.#state = to;
    this.#options.guard.dispose();
    if (to === 'failed') {
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
