import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { classifyFailure } from '@bulwark/breaker';
import { DEFAULT_OUTLIER_DETECTION, Fleet, SharedState } from '@bulwark/ollama/internal';
import {
  BulwarkError,
  type Context,
  createFetch,
  createPipeline,
  DEFAULT_TIMEOUTS,
  ErrorCode,
  realClock,
  type TimeoutError,
} from 'bulwark';
import { Agent } from 'undici';
import { createAuthorizer } from './authorization.js';
import { GATEWAY_DEFAULTS } from './defaults.js';
import { dialectOf, sendError } from './error-response.js';
import { resolveGatewayOptions } from './gateway-options.js';
import { LIVE_PAGE } from './live-page.js';
import { LiveState, type WarmModel } from './live-state.js';
import { type ProxyContext, proxyRequest } from './proxy.js';
import { shareStateOnRedis } from './shared-state.js';
import { createGatewayTelemetry } from './telemetry.js';
import type { Gateway, GatewayOptions } from './types.js';

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  response.end(body);
}

/**
 * What the per-model breaker counts with several upstreams: what it counts with one, except a
 * host's connection failures (refused, reset, a connect timeout), which are the fleet's to judge:
 * they eject that host, while the model keeps answering on the others.
 */
function modelFailure(error: unknown, context: Context): boolean {
  if (BulwarkError.is(error)) {
    if (error.code === ErrorCode.Connection) return false;
    if (error.code === ErrorCode.Timeout && (error as TimeoutError).phase === 'connect') return false;
  }
  return classifyFailure(error, context, false) === 'failure';
}

/** Whether a breaker's key names the upstream: then a host's connection failures are its own to count. */
function keyedByHost(key: unknown): boolean {
  return key === 'host' || key === 'host+model';
}

function parseWarmModels(value: unknown): WarmModel[] {
  const models = (value as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return [];
  return models.flatMap(
    (model: { name?: unknown; model?: unknown; expires_at?: unknown; size_vram?: unknown }) => {
      const name =
        typeof model?.name === 'string' ? model.name : typeof model?.model === 'string' ? model.model : '';
      if (!name) return [];
      return [
        {
          name,
          expiresAt: typeof model.expires_at === 'string' ? model.expires_at : undefined,
          sizeVram: typeof model.size_vram === 'number' ? model.size_vram : undefined,
        },
      ];
    },
  );
}

/**
 * Starts an Ollama- and OpenAI-compatible server that passes every request to one of its
 * upstreams through Bulwark's recommended pipeline (total deadline, retry before the first byte,
 * a breaker and a bulkhead per model, phase budgets) over a fleet (routing, outlier ejection,
 * failover before the first byte), with `/metrics`, `/healthz`, `/readyz` and a live page at
 * `/_bulwark/`.
 *
 * @example
 * await using gateway = await startGateway({
 *   upstreams: ['http://10.0.0.1:11434', 'http://10.0.0.2:11434'],
 *   port: 8080,
 * });
 * // OLLAMA_HOST=http://127.0.0.1:8080 ollama run llama3.2
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const resolved = resolveGatewayOptions(options);
  const telemetry = createGatewayTelemetry(resolved.env);
  const hostCount = resolved.upstreams.length;
  const shared = resolved.redis === undefined ? undefined : await shareStateOnRedis(resolved.redis, resolved);
  const policies = shared ?? resolved;
  const breaker =
    policies.breaker === false ||
    hostCount === 1 ||
    policies.breaker?.failureOn !== undefined ||
    keyedByHost(policies.breaker?.key)
      ? policies.breaker
      : { ...policies.breaker, failureOn: modelFailure };
  const pipeline = createPipeline(
    {
      ...(resolved.timeout === undefined ? {} : { timeout: resolved.timeout }),
      ...(resolved.maxRetries === undefined ? {} : { maxRetries: resolved.maxRetries }),
      ...(policies.retry === undefined ? {} : { retry: policies.retry }),
      ...(breaker === undefined ? {} : { breaker }),
      ...(policies.bulkhead === undefined ? {} : { bulkhead: policies.bulkhead }),
      telemetry: { name: 'gateway' },
    },
    hostCount,
  );
  const timeouts = resolved.timeout;
  const connectMs =
    (typeof timeouts === 'object' ? timeouts.connectMs : undefined) ?? DEFAULT_TIMEOUTS.connectMs;
  // One pool for every request; the phase budgets are Bulwark's own timers, undici's are off.
  const agent = new Agent({
    connect: { timeout: connectMs },
    connections: 128,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fleetOptions = resolved.fleet ?? {};
  const fleetClock = fleetOptions.clock ?? realClock;
  const fleet = new Fleet({
    // The gateway sends raw HTTP itself: the fleet only routes and ejects (no client transport,
    // no model loads of its own).
    hosts: resolved.upstreams.map((url) => ({
      origin: url,
      transport: undefined as never,
      loads: undefined,
      weight: 1,
      capacity: 1,
    })),
    states: undefined,
    clock: fleetClock,
    outlierDetection: {
      consecutiveFailures: fleetOptions.consecutiveFailures ?? DEFAULT_OUTLIER_DETECTION.consecutiveFailures,
      baseEjectionMs: fleetOptions.baseEjectionMs ?? DEFAULT_OUTLIER_DETECTION.baseEjectionMs,
      maxEjectionMs: fleetOptions.maxEjectionMs ?? DEFAULT_OUTLIER_DETECTION.maxEjectionMs,
      maxEjectionPercent: fleetOptions.maxEjectionPercent ?? DEFAULT_OUTLIER_DETECTION.maxEjectionPercent,
    },
  });
  // With Redis, an ejection one instance makes is written there and read by all before routing.
  const fleetView =
    shared === undefined
      ? undefined
      : new SharedState({ store: shared.fleet, states: undefined, fleet, fleetClock });
  const addresses = new Map(
    resolved.upstreams.map((url) => {
      const parsed = new URL(url);
      return [url, { origin: parsed.origin, prefix: parsed.pathname.replace(/\/+$/, '') }] as const;
    }),
  );
  const probeFetch = createFetch({
    connectMs: GATEWAY_DEFAULTS.probeTimeoutMs,
    headersMs: GATEWAY_DEFAULTS.probeTimeoutMs,
    idleMs: GATEWAY_DEFAULTS.probeTimeoutMs,
  });
  const live = new LiveState(pipeline, fleet);
  const authorize = createAuthorizer(resolved.apiKeys);
  const context: ProxyContext = {
    fleet,
    fleetView,
    addresses,
    policy: pipeline.policy,
    dispatcher: agent,
    live,
    telemetry,
    maxBodyBytes: resolved.maxBodyBytes,
    upstreamHeaders: resolved.upstreamHeaders,
    ownsAuthorization: authorize !== undefined,
  };

  // The upstream probes: one round at a time, bounded, run while someone watches or asks /readyz.
  let probing: Promise<void> | undefined;
  let probedAt = Number.NEGATIVE_INFINITY;
  const probeOne = async (url: string): Promise<void> => {
    try {
      const answer = await probeFetch(`${url}/api/ps`, {
        headers: resolved.upstreamHeaders,
        signal: AbortSignal.timeout(GATEWAY_DEFAULTS.probeTimeoutMs),
      });
      if (!answer.ok) {
        await answer.body?.cancel().catch(() => {});
        live.setProbe(url, { ok: false, error: `/api/ps answered ${answer.status}` });
        return;
      }
      live.setProbe(url, { ok: true, models: parseWarmModels(await answer.json()) });
    } catch (error) {
      live.setProbe(url, { ok: false, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const probe = (): Promise<void> => {
    probing ??= Promise.all([...resolved.upstreams.map(probeOne), fleetView?.sync(undefined)]).then(() => {
      probedAt = Date.now();
      probing = undefined;
    });
    return probing;
  };

  // Server-sent events for the live page: one timer for every viewer, only while there are some.
  const viewers = new Set<ServerResponse>();
  let pageTimer: NodeJS.Timeout | undefined;
  let probeTimer: NodeJS.Timeout | undefined;
  const push = () => {
    const data = `event: state\ndata: ${JSON.stringify(live.snapshot())}\n\n`;
    for (const viewer of viewers) viewer.write(data);
  };
  const breakerSubscription = live.onBreakerChange(() => {
    if (viewers.size > 0) setImmediate(push);
  });
  const watch = (request: IncomingMessage, response: ServerResponse) => {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    viewers.add(response);
    if (viewers.size === 1) {
      pageTimer = setInterval(push, resolved.pageIntervalMs).unref();
      probeTimer = setInterval(() => void probe(), resolved.refreshMs).unref();
      void probe().then(push);
    } else {
      response.write(`event: state\ndata: ${JSON.stringify(live.snapshot())}\n\n`);
    }
    request.socket.setNoDelay(true);
    response.on('close', () => {
      viewers.delete(response);
      if (viewers.size === 0) {
        clearInterval(pageTimer);
        clearInterval(probeTimer);
      }
    });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
    const method = request.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    if (read && path === '/healthz') return sendJson(response, 200, { status: 'ok' });
    if (read && path === '/readyz') {
      if (probedAt < Date.now() - resolved.refreshMs) await probe();
      const upstreams = live.upstreams();
      const ready = upstreams.some((upstream) => upstream.state === 'up' && upstream.health !== 'ejected');
      return sendJson(response, ready ? 200 : 503, {
        status: ready ? 'ready' : 'no upstream reachable',
        upstreams: upstreams.map(({ url, state, health, error }) => ({ url, state, health, error })),
      });
    }
    if (read && path === '/metrics') return telemetry.serveMetrics(request, response);
    if (read && path === '/_bulwark') {
      response.writeHead(308, { location: '/_bulwark/' });
      response.end();
      return;
    }
    if (read && path === '/_bulwark/') {
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      response.end(method === 'HEAD' ? undefined : LIVE_PAGE);
      return;
    }
    if (read && path === '/_bulwark/state') {
      await fleetView?.sync(undefined);
      return sendJson(response, 200, live.snapshot());
    }
    if (method === 'GET' && path === '/_bulwark/events') return watch(request, response);
    if (authorize && !authorize(request.headers.authorization)) {
      request.resume();
      telemetry.requests.add(1, { 'http.route': 'unauthorized', 'http.response.status_code': 401 });
      return sendError(response, dialectOf(path), 401, 'unauthorized: a valid API key is required', {
        'www-authenticate': 'Bearer',
      });
    }
    return proxyRequest(request, response, context);
  };

  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent)
        sendError(response, dialectOf(request.url ?? '/'), 500, 'internal gateway error');
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(resolved.port, resolved.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    breakerSubscription.dispose();
    live.dispose();
    await Promise.all([agent.destroy(), probeFetch.close(), telemetry.close(), shared?.close()]);
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const shownHost = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(pageTimer);
      clearInterval(probeTimer);
      breakerSubscription.dispose();
      live.dispose();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
      await Promise.all([agent.destroy(), probeFetch.close(), telemetry.close(), shared?.close()]);
    })();
    return closing;
  };
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: close,
  };
}
