import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { CallRoute, type Fleet, type SharedState } from '@bulwark/ollama/internal';
import type { Attributes, Policy } from 'bulwark';
import type { Dispatcher } from 'undici';
import { dialectOf, failureAnswer, sendError } from './error-response.js';
import type { LiveState } from './live-state.js';
import { BodyTooLargeError, readBody } from './request-body.js';
import type { GatewayTelemetry } from './telemetry.js';
import {
  type AttemptTarget,
  type StoredAnswer,
  type UpstreamRequest,
  upstreamAttempt,
} from './upstream-attempt.js';

/** Methods a server must handle the same way twice (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

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
  /** The upstream hosts, their routing and ejection. */
  fleet: Fleet;
  /** The fleet's state shared with other gateway instances (with Redis), read before routing. */
  fleetView: SharedState | undefined;
  /** Each host's origin and API path, by the host's URL. */
  addresses: ReadonlyMap<string, { origin: string; prefix: string }>;
  /** The pipeline every request runs through (retry, breaker, bulkhead, timeouts). */
  policy: Policy;
  /** The connection pool to every upstream. */
  dispatcher: Dispatcher;
  live: LiveState;
  telemetry: GatewayTelemetry;
  maxBodyBytes: number;
  upstreamHeaders: Record<string, string>;
  /** Whether the gateway checks `Authorization` itself (then it is not forwarded). */
  ownsAuthorization: boolean;
}

function forwardHeaders(
  incoming: IncomingHttpHeaders,
  context: ProxyContext,
): Record<string, string | string[]> {
  const connectionListed = new Set(
    String(incoming.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((name) => name.trim()),
  );
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    if (name === 'authorization' && context.ownsAuthorization) continue;
    headers[name] = value;
  }
  for (const [name, value] of Object.entries(context.upstreamHeaders)) headers[name.toLowerCase()] = value;
  return headers;
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

/**
 * Passes one request to an upstream of the fleet through the pipeline and its answer back chunk
 * by chunk. Each attempt goes to the host routing picks, avoiding those this call already tried
 * (failover before commit). With several upstreams the host is picked as the attempt starts and
 * named in its `host` attribute, so a breaker or bulkhead keyed by `host`, the attempt's span and
 * its errors see the upstream it went to.
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
  const target = request.url ?? '/';
  const path = target.split('?', 1)[0] ?? '/';
  const dialect = dialectOf(path);
  const method = request.method ?? 'GET';
  const controller = new AbortController();
  const onClose = () => {
    if (!response.writableFinished) controller.abort(new Error('the client closed the connection'));
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
    if (body.byteLength === 0) body = undefined;
  }

  const headers = forwardHeaders(request.headers, context);
  const model = modelOf(body);
  const upstreamRequest: UpstreamRequest = {
    path: target.startsWith('/') ? target : `/${target}`,
    method,
    headers,
    body,
    model,
    replaySafe: IDEMPOTENT.has(method) || 'idempotency-key' in headers || isReplayableRoute(path),
  };
  // What other gateway instances saw of the upstreams (ejections), before routing.
  if (context.fleetView) await context.fleetView.sync(model);
  const callRoute = new CallRoute(context.fleet, model);
  const stored = new WeakMap<object, StoredAnswer>();
  const attemptTarget: AttemptTarget = {
    dispatcher: context.dispatcher,
    acquire: () => {
      const lease = callRoute.take();
      // Later attempts of this request go to another host while one is left.
      callRoute.failed(lease.host);
      return lease;
    },
    addressOf: (host) => context.addresses.get(host.origin) ?? { origin: host.origin, prefix: '' },
    clientSignal: controller.signal,
    stored,
    onCommit: (status) => answered(status),
    onFirstChunk: () => {
      const elapsedMs = performance.now() - startedAt;
      context.live.recordFirstChunk(elapsedMs);
      context.telemetry.timeToFirstChunk.record(elapsedMs / 1_000, { 'http.route': route });
    },
  };
  const several = context.fleet.hosts.length > 1;
  const single = several ? undefined : context.fleet.hosts[0]?.origin;
  const attributes: Attributes = {
    operation: 'fetch',
    method,
    ...(single === undefined ? {} : { host: single }),
    ...(model === undefined ? {} : { model }),
  };

  context.live.begin();
  try {
    await context.policy.execute(
      (attemptContext) => upstreamAttempt(attemptContext, upstreamRequest, response, attemptTarget),
      {
        signal: controller.signal,
        attributes,
        ...(several ? { attemptAttributes: callRoute.attemptAttributes } : {}),
      },
    );
  } catch (error) {
    if (response.headersSent || controller.signal.aborted) {
      if (!response.writableFinished) response.destroy();
      return;
    }
    const answer = typeof error === 'object' && error !== null ? stored.get(error) : undefined;
    if (answer) {
      answered(answer.status);
      if (method === 'HEAD') {
        response.writeHead(answer.status, answer.headers);
        response.end();
      } else {
        response.writeHead(answer.status, {
          ...answer.headers,
          'content-length': String(answer.body.byteLength),
        });
        response.end(answer.body);
      }
      return;
    }
    const failure = failureAnswer(error);
    if (failure.shed) {
      context.live.recordShed(failure.shed);
      context.telemetry.shed.add(1, { 'bulwark.shed.reason': failure.shed });
    }
    answered(failure.status);
    sendError(
      response,
      dialect,
      failure.status,
      failure.message,
      failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) },
    );
  } finally {
    // A host routed for an attempt that never ran (a policy refused it) goes back.
    callRoute.end();
    context.live.end();
  }
}
