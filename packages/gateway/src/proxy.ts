import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { BulwarkFetch } from 'bulwark';
import { dialectOf, failureAnswer, sendError } from './error-response.js';
import type { LiveState } from './live-state.js';
import { BodyTooLargeError, readBody } from './request-body.js';
import type { GatewayTelemetry } from './telemetry.js';

/** Connection-level headers a proxy never forwards (RFC 9110 §7.6.1), plus those it recomputes. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

/** The generation and embedding routes: the same request gives an equivalent answer, so a replay before the first byte is safe. */
const REPLAYABLE_ROUTES: ReadonlySet<string> = new Set([
  '/api/chat',
  '/api/generate',
  '/api/embed',
  '/api/embeddings',
  '/api/show',
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
]);

export function isReplayableRoute(path: string): boolean {
  return REPLAYABLE_ROUTES.has(path);
}

/** What one proxied request needs from the gateway. */
export interface ProxyContext {
  upstream: string;
  /** A fetch through the pipeline whose calls carry `model` (the breaker and bulkhead key). */
  fetchFor(model: string | undefined): BulwarkFetch;
  live: LiveState;
  telemetry: GatewayTelemetry;
  maxBodyBytes: number;
  upstreamHeaders: Record<string, string>;
  /** Whether the gateway checks `Authorization` itself (then it is not forwarded). */
  ownsAuthorization: boolean;
}

function forwardHeaders(incoming: IncomingHttpHeaders, context: ProxyContext): Headers {
  const connectionListed = new Set(
    String(incoming.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((name) => name.trim()),
  );
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    if (name === 'authorization' && context.ownsAuthorization) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  for (const [name, value] of Object.entries(context.upstreamHeaders)) headers.set(name, value);
  return headers;
}

function responseHeaders(response: Response): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // undici decodes gzip and deflate: what leaves is identity, its length unknown.
  const decoded = response.headers.has('content-encoding');
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name) && !(name === 'content-length' && !decoded)) continue;
    if (name === 'content-encoding') continue;
    if (name === 'set-cookie') out[name] = response.headers.getSetCookie();
    else out[name] = value;
  }
  return out;
}

function waitForDrain(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

const MAX_MODEL_PARSE_BYTES = 1_048_576;

/** The `model` (or `name`) field of a JSON body; large bodies (images) are searched near their start. */
export function modelOf(body: Buffer | undefined): string | undefined {
  if (body === undefined || body[0] !== 0x7b) return undefined;
  if (body.byteLength <= MAX_MODEL_PARSE_BYTES) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { model?: unknown; name?: unknown };
      const model = typeof parsed.model === 'string' && parsed.model ? parsed.model : parsed.name;
      return typeof model === 'string' && model ? model : undefined;
    } catch {
      return undefined;
    }
  }
  return /"model"\s*:\s*"([^"\\]{1,256})"/.exec(body.subarray(0, 4_096).toString('utf8'))?.[1];
}

/** The body as a string when it is JSON (so the pipeline can read its `model`), else the bytes. */
function upstreamBody(body: Buffer): string | Uint8Array | undefined {
  if (body.byteLength === 0) return undefined;
  return body[0] === 0x7b
    ? body.toString('utf8')
    : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/**
 * Passes one request to the upstream through the pipeline and its answer back chunk by chunk.
 * Retries happen only before the answer's headers leave (the commit rule); a client that leaves
 * aborts the upstream request at once; an upstream that fails mid-answer has the client's
 * connection cut, as a direct client would see.
 */
export async function proxyRequest(
  request: IncomingMessage,
  response: ServerResponse,
  context: ProxyContext,
): Promise<void> {
  const startedAt = performance.now();
  const url = new URL(request.url ?? '/', 'http://gateway');
  const path = url.pathname;
  const dialect = dialectOf(path);
  const method = request.method ?? 'GET';
  const controller = new AbortController();
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const onClose = () => {
    if (response.writableFinished) return;
    controller.abort(new Error('the client closed the connection'));
    reader?.cancel().catch(() => {});
  };
  response.on('close', onClose);
  const route = isReplayableRoute(path) || path.startsWith('/api/') ? path : 'other';
  const answered = (status: number) =>
    context.telemetry.requests.add(1, { 'http.route': route, 'http.response.status_code': status });

  let body: Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    try {
      body = await readBody(request, context.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        answered(413);
        sendError(response, dialect, 413, error.message, { connection: 'close' });
        return;
      }
      response.destroy();
      return;
    }
  }

  context.live.begin();
  try {
    let upstream: Response;
    try {
      upstream = await context.fetchFor(modelOf(body))(`${context.upstream}${path}${url.search}`, {
        method,
        headers: forwardHeaders(request.headers, context),
        ...(body === undefined ? {} : { body: upstreamBody(body) as RequestInit['body'] }),
        signal: controller.signal,
        redirect: 'manual',
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      const answer = failureAnswer(error);
      if (answer.shed) {
        context.live.recordShed(answer.shed);
        context.telemetry.shed.add(1, { 'bulwark.shed.reason': answer.shed });
      }
      answered(answer.status);
      sendError(
        response,
        dialect,
        answer.status,
        answer.message,
        answer.retryAfterSeconds === undefined ? {} : { 'retry-after': String(answer.retryAfterSeconds) },
      );
      return;
    }
    if (controller.signal.aborted) {
      await upstream.body?.cancel().catch(() => {});
      return;
    }
    response.writeHead(upstream.status, upstream.statusText, responseHeaders(upstream));
    answered(upstream.status);
    if (!upstream.body || method === 'HEAD') {
      await upstream.body?.cancel().catch(() => {});
      response.end();
      return;
    }
    reader = upstream.body.getReader();
    let first = true; // time to first chunk is recorded for answers, not errors
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (first && upstream.status < 400) {
          first = false;
          const elapsedMs = performance.now() - startedAt;
          context.live.recordFirstChunk(elapsedMs);
          context.telemetry.timeToFirstChunk.record(elapsedMs / 1_000, { 'http.route': route });
        }
        if (!response.write(value)) await waitForDrain(response);
        if (response.destroyed) return;
      }
      response.end();
    } catch {
      // The upstream failed after the answer started: the client sees its connection cut.
      response.destroy();
    }
  } finally {
    context.live.end();
  }
}
