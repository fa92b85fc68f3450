// Writes one response: single JSON bodies or line streams, with Go's framing, and carries out the
// fault scripted for the request (stalls, resets, broken lines, drip, gzip...).
import type { ServerResponse } from 'node:http';
import { createGzip, gzipSync, constants as zlibConstants } from 'node:zlib';
import { type CancelSignal, sleep, untilCancelled } from './cancel-signal.js';
import { faultKind } from './faults.js';
import { goJson, nowMs } from './go-json.js';
import type { Fault, FaultKind, RequestRecord } from './types.js';

/** Bodies up to this size carry Content-Length; larger ones go chunked (Go's net/http buffer). */
const CONTENT_LENGTH_LIMIT = 2048;
/** Lines are gathered up to this size when nothing waits between them. */
const BATCH_BYTES = 16 * 1024;
const DEFAULT_LINE_BYTES = 10 * 1024 * 1024;
/** Time given to a client to read what was sent before a scripted RST. */
const RESET_GRACE_MS = 15;

/** How a route formats errors and filler inside its wire format. */
export interface Dialect {
  /** An error answered before any output: status, content type, body. */
  errorBody(status: number, message: string): { contentType: string; body: string };
  /**
   * The content type of an error a streaming handler sends before any output (Go's
   * `streamResponse`: `c.JSON` under the stream's own `Content-Type`, flushed, so chunked). Without
   * it such an error is answered like any other ({@link errorBody}).
   */
  readonly streamErrorType?: string;
  /** What the server writes when generation fails after output started (then the stream ends). */
  errorLine(message: string): string;
  /** An explicit error event inside a started stream (the `'error-event'` fault). */
  errorEvent(message: string): string;
  /**
   * A complete, valid stream line whose text payload is `filler` (for oversized lines). Nothing
   * after the payload may contain an `x`: {@link sizedFillerLine} finds the payload's end by it.
   */
  fillerLine(filler: string): string;
  /** The start of a line that an endless line continues forever. */
  endlessPrefix(): string;
}

/** Ollama's native API: `{"error":"..."}`. */
export const OLLAMA_DIALECT: Dialect = {
  errorBody: (_status, message) => ({
    contentType: 'application/json; charset=utf-8',
    body: goJson({ error: message }),
  }),
  streamErrorType: 'application/json',
  errorLine: (message) => `${goJson({ error: message })}\n`,
  errorEvent: (message) => `${goJson({ error: message })}\n`,
  fillerLine: (filler) => `{"status":"${filler}"}\n`,
  endlessPrefix: () => '{"status":"',
};

/**
 * A filler line of exactly `size` bytes (at least its shortest form). The line carries a timestamp
 * whose length varies by a few bytes from one reading to the next, so the line is built once and
 * its run of `x` (the last `x` in every dialect's line) is then stretched or shortened to fit.
 */
export function sizedFillerLine(dialect: Dialect, size: number): string {
  const run = Math.max(1, size - Buffer.byteLength(dialect.fillerLine('')));
  const line = dialect.fillerLine('x'.repeat(run));
  const missing = size - Buffer.byteLength(line);
  if (missing === 0) return line;
  const end = line.lastIndexOf('x') + 1;
  if (missing > 0) return line.slice(0, end) + 'x'.repeat(missing) + line.slice(end);
  return line.slice(0, end - Math.min(-missing, run - 1)) + line.slice(end);
}

/** A pipe the response bytes go through: plain, dripped, gzip-encoded. */
interface Sink {
  /** Returns a promise when the caller should wait (backpressure, drip pacing). */
  write(chunk: string | Buffer): Promise<void> | undefined;
  /** Resolves when everything written so far has reached the socket. */
  flush(): Promise<void>;
  end(): Promise<void>;
}

class PlainSink implements Sink {
  private readonly res: ServerResponse;
  private readonly signal: CancelSignal;

  constructor(private readonly output: ResponseOutput) {
    this.res = output.res;
    this.signal = output.signal;
  }

  private onFirstWrite(): void {
    this.output.markHeaders();
  }

  write(chunk: string | Buffer): Promise<void> | undefined {
    this.onFirstWrite();
    if (this.res.destroyed) return undefined;
    if (this.res.write(chunk)) return undefined;
    return this.drain();
  }

  private drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      this.res.on('drain', done);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  flush(): Promise<void> {
    if (this.res.destroyed || this.res.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      if (!this.res.write('', () => resolve())) this.drain().then(resolve);
    });
  }

  end(): Promise<void> {
    this.onFirstWrite();
    if (!this.res.destroyed) this.res.end();
    return Promise.resolve();
  }
}

class DripSink implements Sink {
  private readonly queue: Buffer[] = [];
  private pumping: Promise<void> | undefined;

  constructor(
    private readonly inner: Sink,
    private readonly bytes: number,
    private readonly intervalMs: number,
    private readonly signal: CancelSignal,
  ) {}

  write(chunk: string | Buffer): Promise<void> {
    this.queue.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    this.pumping ??= this.pump();
    return this.pumping;
  }

  private async pump(): Promise<void> {
    let first = true;
    while (this.queue.length > 0 && !this.signal.aborted) {
      const head = this.queue[0] as Buffer;
      const piece = head.subarray(0, this.bytes);
      if (piece.length === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(this.bytes);
      if (!first) await sleep(this.intervalMs, this.signal);
      first = false;
      if (this.signal.aborted) break;
      await this.inner.write(piece);
      await this.inner.flush();
    }
    this.pumping = undefined;
  }

  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
    await this.inner.flush();
  }

  async end(): Promise<void> {
    await this.flush();
    await this.inner.end();
  }
}

class GzipSink implements Sink {
  private readonly gzip = createGzip();
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly inner: Sink) {
    this.gzip.on('data', (data: Buffer) => {
      const wait = this.inner.write(data);
      if (wait) this.pending = this.pending.then(() => wait);
    });
  }

  write(chunk: string | Buffer): Promise<void> {
    this.gzip.write(chunk);
    return this.flush();
  }

  async flush(): Promise<void> {
    await new Promise<void>((resolve) =>
      this.gzip.flush(zlibConstants.Z_SYNC_FLUSH, () => setImmediate(resolve)),
    );
    await this.pending;
    await this.inner.flush();
  }

  async end(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.gzip.once('end', () => resolve());
      this.gzip.end();
      this.gzip.resume();
    });
    await this.pending;
    await this.inner.end();
  }
}

/** One response and the fault it carries out. */
export class ResponseOutput {
  /** Lines (or SSE events) written, counting the one being written by a fault. */
  lines = 0;
  /** True once a fault or the client ended the output: the producer must stop. */
  stopped = false;
  /** The stream ended early on purpose (no final line): `'no-done'`. */
  endedEarly = false;
  /** Whether a scripted break (reset, close) destroyed the connection. */
  destroyedBySim = false;

  private readonly kind: FaultKind | undefined;
  private readonly afterChunks: number;
  private sink: Sink | undefined;
  private batching = false;
  private batch = '';
  private streaming = false;
  private dialect: Dialect = OLLAMA_DIALECT;
  private headersSent = false;
  private fired = false;

  constructor(
    readonly res: ServerResponse,
    readonly record: RequestRecord,
    readonly fault: Fault | undefined,
    /** Aborts when the client leaves or the simulator closes. */
    readonly signal: CancelSignal,
  ) {
    this.kind = fault ? faultKind(fault) : undefined;
    this.afterChunks = fault?.afterChunks ?? 0;
  }

  /** Whether any byte (or the headers) left. */
  get started(): boolean {
    return this.headersSent;
  }

  /** Records that the status line and headers are leaving. */
  markHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.record.status = this.res.statusCode;
    this.record.headersAt = nowMs();
  }

  private makeSink(single: boolean): Sink {
    let sink: Sink = new PlainSink(this);
    const fault = this.fault;
    if (fault && (fault.dripBytes !== undefined || fault.dripIntervalMs !== undefined)) {
      sink = new DripSink(sink, fault.dripBytes ?? 1, fault.dripIntervalMs ?? 10, this.signal);
    }
    if (fault?.gzip && !single) sink = new GzipSink(sink);
    return sink;
  }

  private get dripping(): boolean {
    return this.fault?.dripBytes !== undefined || this.fault?.dripIntervalMs !== undefined;
  }

  // ---------------------------------------------------------------- single bodies

  /**
   * Sends a complete body. Body-level faults apply here: `close-mid-line`, `truncate`,
   * `malformed-line`, `oversized-line` and `endless-line` act on the body.
   */
  async body(
    status: number,
    contentType: string,
    text: string,
    headers?: Record<string, string>,
  ): Promise<void> {
    const res = this.res;
    if (this.fault === undefined && headers === undefined) {
      // The common case: a short body without a fault, in one write with the headers, not
      // waited for. writeHead with a list skips setHeader's bookkeeping.
      if (this.signal.aborted || res.writableEnded || res.destroyed) return;
      const bytes = Buffer.byteLength(text);
      if (bytes <= CONTENT_LENGTH_LIMIT) {
        res.writeHead(status, ['Content-Type', contentType, 'Content-Length', String(bytes)]);
        this.markHeaders();
        res.end(text);
        return;
      }
    }
    if (this.kind !== undefined && !this.fired && this.lines === this.afterChunks) {
      await this.fireSilent();
      if (this.stopped) return;
    }
    if (this.signal.aborted || res.writableEnded || res.destroyed) return;
    res.statusCode = status;
    res.setHeader('Content-Type', contentType);
    if (headers) for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    let payload: string | Buffer = text;
    const kind = this.kind;
    if (kind === 'malformed-line' && text.length > 0) payload = `${text.slice(0, -1)}x`;
    if (kind === 'oversized-line')
      payload = text + ' '.repeat(Math.max(0, (this.fault?.lineBytes ?? DEFAULT_LINE_BYTES) - text.length));
    if (this.fault?.gzip) {
      payload = gzipSync(payload);
      res.setHeader('Content-Encoding', 'gzip');
    }
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (kind === 'endless-line') {
      this.sink = this.makeSink(true);
      await this.endless(
        typeof payload === 'string' ? payload.slice(0, Math.max(1, payload.length >> 1)) : payload,
      );
      return;
    }
    if (kind === 'close-mid-line' || kind === 'truncate') {
      const half =
        typeof payload === 'string'
          ? Buffer.from(payload).subarray(0, bytes >> 1)
          : payload.subarray(0, bytes >> 1);
      if (kind === 'close-mid-line') res.setHeader('Content-Length', String(bytes));
      else res.setHeader('Content-Length', String(half.length));
      this.sink = this.makeSink(true);
      await this.sink.write(half);
      await this.sink.flush();
      if (kind === 'close-mid-line') return this.closeSocket();
      await this.sink.end();
      return;
    }
    if (bytes <= CONTENT_LENGTH_LIMIT || this.dripping) res.setHeader('Content-Length', String(bytes));
    if (!this.fault) {
      // The common case: one write with the headers, not waited for.
      this.markHeaders();
      if (bytes <= CONTENT_LENGTH_LIMIT) {
        res.end(payload);
      } else {
        res.write(payload);
        res.end();
      }
      return;
    }
    this.sink = this.makeSink(true);
    if (bytes > 0) await this.sink.write(payload);
    await this.sink.end();
  }

  /** A Go `c.JSON(status, value)` answer. */
  json(status: number, value: unknown): Promise<void> {
    return this.body(status, 'application/json; charset=utf-8', goJson(value));
  }

  /** An error before any output, in the route's dialect. */
  error(status: number, message: string): Promise<void> {
    this.record.error = message;
    const { contentType, body } = this.dialect.errorBody(status, message);
    return this.body(status, contentType, body);
  }

  /**
   * An error a streaming handler sends before any output: in the Ollama dialect the JSON error as
   * `application/json`, chunked (no Content-Length), as `streamResponse` writes it; otherwise
   * {@link error}.
   */
  async streamError(status: number, message: string): Promise<void> {
    const type = this.dialect.streamErrorType;
    if (type === undefined || this.headersSent) return this.error(status, message);
    this.record.error = message;
    const res = this.res;
    if (this.signal.aborted || res.writableEnded || res.destroyed) return;
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    res.removeHeader('Content-Encoding');
    res.removeHeader('Content-Length');
    this.batch = '';
    const sink = this.makeSink(true);
    this.sink = sink;
    // A write before the end, without Content-Length: Node frames the body chunked.
    await sink.write(this.dialect.errorBody(status, message).body);
    await sink.end();
  }

  /** Sets the dialect errors and filler lines are written in. */
  useDialect(dialect: Dialect): void {
    this.dialect = dialect;
  }

  // ---------------------------------------------------------------- streams

  /**
   * Prepares a 200 stream. Nothing leaves until the first line. With `batch`, lines are gathered
   * into larger writes (each line stays whole); use it only when nothing waits between lines.
   */
  beginStream(contentType: string, options: { batch: boolean }): void {
    this.streaming = true;
    this.res.statusCode = 200;
    this.res.setHeader('Content-Type', contentType);
    if (this.fault?.gzip) this.res.setHeader('Content-Encoding', 'gzip');
    this.sink = this.makeSink(false);
    this.batching = options.batch && !this.dripping && !this.fault?.gzip;
  }

  /**
   * Counts one generated chunk of a non-streamed answer, so that chunk-indexed faults fire at the
   * same point as in a stream. Returns a promise when the producer must wait.
   */
  tick(): Promise<void> | undefined {
    if (this.kind !== undefined && !this.fired && this.lines === this.afterChunks) {
      const wait = this.fireSilent();
      this.lines++;
      return wait;
    }
    this.lines++;
    return undefined;
  }

  /**
   * Counts `count` generated chunks of a non-streamed answer at once, when no fault can fire among
   * them (the request has none). Returns false, counting nothing, otherwise: tick them one by one.
   */
  tickAll(count: number): boolean {
    if (this.kind !== undefined) return false;
    this.lines += count;
    return true;
  }

  private async fireSilent(): Promise<void> {
    this.fired = true;
    switch (this.kind) {
      case 'stall':
        await (this.fault?.stallMs === undefined
          ? untilCancelled(this.signal)
          : sleep(this.fault.stallMs, this.signal));
        return;
      case 'reset':
        this.resetSocket();
        return;
      case 'error-line':
      case 'error-event':
        await this.error(this.fault?.status ?? 500, this.fault?.message ?? RUNNER_ERROR_MESSAGE);
        this.stopped = true;
        return;
      case 'no-done':
        this.endedEarly = true;
        return;
      default:
        this.fired = false;
    }
  }

  /** Writes one stream line (with its terminator). Returns a promise when the producer must wait. */
  line(text: string): Promise<void> | undefined {
    if (this.stopped) return undefined;
    if (this.signal.aborted) {
      this.stopped = true;
      return undefined;
    }
    if (this.kind !== undefined && !this.fired && this.lines === this.afterChunks) return this.fireAt(text);
    this.lines++;
    this.record.chunks = this.lines;
    if (this.batching) {
      this.batch += text;
      if (this.batch.length < BATCH_BYTES) return undefined;
      const chunk = this.batch;
      this.batch = '';
      return (this.sink as Sink).write(chunk);
    }
    return (this.sink as Sink).write(text);
  }

  private async writeNow(text: string): Promise<void> {
    const sink = this.sink as Sink;
    if (this.batch) {
      const chunk = this.batch;
      this.batch = '';
      await sink.write(chunk);
    }
    await sink.write(text);
  }

  private async flushAll(): Promise<void> {
    const sink = this.sink as Sink;
    if (this.batch) {
      const chunk = this.batch;
      this.batch = '';
      await sink.write(chunk);
    }
    await sink.flush();
  }

  private async fireAt(text: string): Promise<void> {
    this.fired = true;
    const fault = this.fault as Fault;
    switch (this.kind) {
      case 'stall':
        await this.flushAll();
        await (fault.stallMs === undefined ? untilCancelled(this.signal) : sleep(fault.stallMs, this.signal));
        break;
      case 'reset':
        await this.flushAll();
        if (this.lines > 0) await sleep(RESET_GRACE_MS, this.signal);
        this.resetSocket();
        return;
      case 'close-mid-line': {
        const bytes = Buffer.from(text);
        this.lines++;
        this.record.chunks = this.lines;
        await this.writeNow('');
        await (this.sink as Sink).write(bytes.subarray(0, Math.max(1, bytes.length >> 1)));
        await (this.sink as Sink).flush();
        this.closeSocket();
        return;
      }
      case 'malformed-line': {
        const terminator = text.endsWith('\n\n') ? '\n\n' : '\n';
        const body = text.slice(0, text.length - terminator.length);
        await this.writeNow(`${body.slice(0, Math.max(1, body.length >> 1))}${terminator}`);
        break;
      }
      case 'error-line':
      case 'error-event':
        if (!this.headersSent && this.lines === 0) {
          await this.streamError(fault.status ?? 500, fault.message ?? RUNNER_ERROR_MESSAGE);
          this.stopped = true;
          return;
        }
        this.stopped = true;
        this.record.error = fault.message ?? RUNNER_ERROR_MESSAGE;
        await this.writeNow(
          this.kind === 'error-event'
            ? this.dialect.errorEvent(this.record.error)
            : this.dialect.errorLine(this.record.error),
        );
        await this.finishStream();
        return;
      case 'oversized-line': {
        await this.writeNow(sizedFillerLine(this.dialect, fault.lineBytes ?? DEFAULT_LINE_BYTES));
        break;
      }
      case 'endless-line':
        await this.flushAll();
        await this.endless(this.dialect.endlessPrefix());
        return;
      case 'no-done':
        this.stopped = true;
        this.endedEarly = true;
        await this.finishStream();
        return;
      default:
        this.fired = false;
    }
    if (this.stopped || this.signal.aborted) {
      this.stopped = true;
      return;
    }
    this.lines++;
    this.record.chunks = this.lines;
    await this.writeNow(text);
  }

  /** Writes the final line (`done: true`); `truncate` cuts it in half. Then ends the stream. */
  async finalLine(text: string): Promise<void> {
    if (this.kind === 'truncate' && !this.stopped && !this.signal.aborted) {
      this.fired = true;
      const bytes = Buffer.from(text);
      this.lines++;
      this.record.chunks = this.lines;
      await this.writeNow('');
      await (this.sink as Sink).write(bytes.subarray(0, Math.max(1, bytes.length >> 1)));
      this.stopped = true;
      await this.finishStream();
      return;
    }
    const wait = this.line(text);
    if (wait) await wait;
    await this.end();
  }

  /** Ends a stream cleanly (the terminating chunk). */
  async end(): Promise<void> {
    if (this.signal.aborted || this.res.writableEnded) return;
    this.stopped = true;
    await this.finishStream();
  }

  /** After output started: an `{"error"}` line and a clean end. Before: the JSON error with `status`. */
  async fail(status: number, message: string): Promise<void> {
    if (this.res.writableEnded || this.signal.aborted) return;
    if (!this.headersSent && this.batch === '') {
      await this.error(status, message);
      this.stopped = true;
      return;
    }
    this.stopped = true;
    this.record.error = message;
    await this.writeNow(this.dialect.errorLine(message));
    await this.finishStream();
  }

  private async finishStream(): Promise<void> {
    if (this.res.writableEnded) return;
    const sink = this.sink ?? this.makeSink(true);
    if (this.batch) {
      const chunk = this.batch;
      this.batch = '';
      await sink.write(chunk);
    }
    await sink.end();
  }

  private async endless(prefix: string | Buffer): Promise<void> {
    this.stopped = true;
    const sink = this.sink as Sink;
    await sink.write(prefix);
    const filler = Buffer.alloc(64 * 1024, 'x');
    while (!this.signal.aborted && !this.res.destroyed) {
      await sink.write(filler);
      await sleep(1, this.signal);
    }
  }

  private resetSocket(): void {
    this.stopped = true;
    this.destroyedBySim = true;
    const socket = this.res.socket;
    if (!socket || socket.destroyed) return;
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }

  private closeSocket(): void {
    this.stopped = true;
    this.destroyedBySim = true;
    const socket = this.res.socket;
    if (!socket || socket.destroyed) return;
    socket.destroySoon();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Whether this response is a stream (NDJSON or SSE). */
  get isStream(): boolean {
    return this.streaming;
  }
}

/** What a runner failure after output looks like (llm/server.go). */
export const RUNNER_ERROR_MESSAGE = 'an error was encountered while running the model: unexpected EOF';
