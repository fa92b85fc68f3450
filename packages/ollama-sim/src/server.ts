import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import { checkAccess } from './access-check.js';
import { Cancellation, type CancelSignal, sleep } from './cancel-signal.js';
import { FaultTable, faultKind, validateFault, validateFaults } from './faults.js';
import { type GoDecodeResult, parseGoJson } from './go-decoding/index.js';
import { FOREVER_MS } from './go-duration.js';
import { goJson, nowMs } from './go-json.js';
import { GoServerResponse } from './go-response.js';
import {
  DEFAULT_MODELS,
  KNOWN_MODEL_NAMES,
  type ModelDefaults,
  REPLY_TOKENS_DEFAULT,
  resolveModel,
  type SimModel,
  validateModelSpec,
} from './model-catalog.js';
import { OLLAMA_DIALECT, ResponseOutput } from './response-output.js';
import { OPENAI_DIALECT } from './routes/openai-encoders.js';
import { matchRoute, streamsByDefault } from './routes/route-table.js';
import { Scheduler, SERVER_BUSY_MESSAGE } from './scheduler.js';
import { type RouteContext, SimState } from './sim-state.js';
import { SimStats } from './sim-stats.js';
import { planReply, publicReply } from './simulated-reply.js';
import type { Fault, ModelStats, OllamaSim, OllamaSimOptions, ReplyRequest, RequestRecord } from './types.js';
import {
  boolean,
  type Check,
  duration,
  integer,
  nonEmptyString,
  SimOptionError,
  signedDuration,
  tokenRange,
  validateOptions,
} from './validate-options.js';

const WHERE = 'startOllamaSim()';

const OPTIONS_SCHEMA: { readonly [K in keyof OllamaSimOptions]-?: Check } = {
  host: nonEmptyString,
  port: integer(0, 65_535),
  models: (value) => (Array.isArray(value) ? undefined : 'must be an array of model names or specs'),
  faults: (value) => (Array.isArray(value) ? undefined : 'must be an array of faults'),
  numParallel: integer(1),
  maxQueue: integer(0),
  boundSlotWait: boolean,
  maxLoadedModels: integer(1),
  keepAliveMs: signedDuration,
  loadMs: duration,
  promptEvalMs: duration,
  tokenDelayMs: duration,
  replyTokens: tokenRange,
  version: nonEmptyString,
  requestLogLimit: integer(0),
  pullable: (value) =>
    Array.isArray(value) && value.every((name) => typeof name === 'string' && name.trim() !== '')
      ? undefined
      : 'must be an array of model names',
};

/** Checks options eagerly; throws a SimOptionError naming the option and the value. */
export function validateSimOptions(options: unknown): asserts options is OllamaSimOptions | undefined {
  validateOptions(WHERE, options, OPTIONS_SCHEMA);
  const given = (options ?? {}) as OllamaSimOptions;
  for (const [index, spec] of (given.models ?? []).entries()) validateModelSpec(WHERE, spec, index);
  if (given.models?.length === 0) {
    throw new SimOptionError(
      `${WHERE}: option "models" must list at least one model`,
      'models',
      given.models,
    );
  }
  if (given.faults) validateFaults(WHERE, given.faults);
}

const RUNNER_STOPPED =
  'model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details';

/** The error text a `status` fault sends when it sets no `message`. */
export function defaultFaultMessage(status: number, model: string | undefined): string {
  switch (status) {
    case 503:
      return SERVER_BUSY_MESSAGE;
    case 500:
      return RUNNER_STOPPED;
    case 404:
      return `model '${model ?? ''}' not found`;
    case 499:
      return 'request canceled';
    case 401:
      return 'unauthorized';
    case 429:
      return 'too many requests';
    default:
      return (STATUS_CODES[status] ?? `status ${status}`).toLowerCase();
  }
}

function htmlPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

function modelField(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  const { model, name, source } = record;
  if (typeof model === 'string' && model !== '') return model;
  if (typeof name === 'string' && name !== '') return name;
  if (typeof source === 'string' && source !== '') return source;
  return undefined;
}

function urlFor(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return shown.includes(':') ? `http://[${shown}]:${port}` : `http://${shown}:${port}`;
}

/**
 * Starts an Ollama-compatible server with scripted faults, on 127.0.0.1 and a free port by default.
 * Options are checked at once: an unknown key or a bad value throws a {@link SimOptionError}.
 */
export async function startOllamaSim(options: OllamaSimOptions = {}): Promise<OllamaSim> {
  validateSimOptions(options);
  const defaults: ModelDefaults = {
    loadMs: options.loadMs ?? 0,
    numParallel: options.numParallel ?? 1,
    promptEvalMs: options.promptEvalMs ?? 0,
    tokenDelayMs: options.tokenDelayMs ?? 0,
    replyTokens: options.replyTokens ?? REPLY_TOKENS_DEFAULT,
  };
  const models: SimModel[] = (options.models ?? DEFAULT_MODELS).map((spec) => resolveModel(spec, defaults));
  const keepAliveMs = options.keepAliveMs ?? 300_000;
  const stats = new SimStats();
  const scheduler = new Scheduler({
    maxQueue: options.maxQueue ?? 512,
    maxLoadedModels: options.maxLoadedModels ?? 3,
    keepAliveMs: keepAliveMs < 0 ? FOREVER_MS : keepAliveMs,
    boundSlotWait: options.boundSlotWait ?? false,
    stats,
  });
  const state = new SimState(models, scheduler, stats, {
    version: options.version ?? '0.33.0',
    modelDefaults: defaults,
    pullable: options.pullable ?? KNOWN_MODEL_NAMES,
  });
  const faults = new FaultTable();
  faults.set(options.faults ?? []);
  const logLimit = options.requestLogLimit ?? 10_000;
  const records: RequestRecord[] = [];
  let requestCount = 0;
  let sinceClear = 0;
  let requestWaiters: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const closing = new Cancellation();
  /** One per request in progress: fires when its client leaves or the simulator closes. */
  const active = new Set<Cancellation>();

  interface Exchange {
    readonly record: RequestRecord;
    readonly cancel: Cancellation;
    readonly chunks: Buffer[];
    readonly req: IncomingMessage;
    readonly res: ServerResponse;
  }
  const kExchange = Symbol('exchange');
  type Carrier = { [kExchange]?: Exchange };
  // Shared listeners (no closures per request: the hot path stays lean).
  function onData(this: IncomingMessage, chunk: Buffer): void {
    (this as Carrier)[kExchange]?.chunks.push(chunk);
  }
  function onRequestError(this: IncomingMessage): void {
    (this as Carrier)[kExchange]?.cancel.abort();
  }
  function onEnd(this: IncomingMessage): void {
    const exchange = (this as Carrier)[kExchange];
    if (exchange) void handle(exchange);
  }
  function onClose(this: ServerResponse): void {
    const exchange = (this as Carrier)[kExchange];
    if (!exchange) return;
    (this as Carrier)[kExchange] = undefined;
    (exchange.req as Carrier)[kExchange] = undefined;
    active.delete(exchange.cancel);
    if (!this.writableFinished) exchange.cancel.abort();
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const id = ++requestCount;
    sinceClear++;
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const route = query < 0 ? url : url.slice(0, query);
    const record: RequestRecord = {
      id,
      method: req.method ?? 'GET',
      route,
      url,
      model: undefined,
      body: undefined,
      headers: req.headers,
      status: undefined,
      outcome: 'pending',
      fault: undefined,
      chunks: 0,
      error: undefined,
      startedAt: nowMs(),
      headersAt: undefined,
      endedAt: undefined,
    };
    if (logLimit > 0) {
      if (records.length >= logLimit) records.shift();
      records.push(record);
    }
    if (requestWaiters.length > 0) {
      const ready = requestWaiters.filter((waiter) => sinceClear >= waiter.count);
      requestWaiters = requestWaiters.filter((waiter) => sinceClear < waiter.count);
      for (const waiter of ready) waiter.resolve();
    }
    const exchange: Exchange = { record, cancel: new Cancellation(), chunks: [], req, res };
    active.add(exchange.cancel);
    (req as Carrier)[kExchange] = exchange;
    (res as Carrier)[kExchange] = exchange;
    // `on` rather than `once` (which wraps each listener in a new closure): 'end' and 'close' fire
    // once, and a second 'error' only aborts again.
    res.on('close', onClose);
    req.on('data', onData);
    req.on('error', onRequestError);
    req.on('end', onEnd);
  };

  /** Whether the server listens on a loopback address: only then is the Host header checked. */
  let loopbackBind = false;

  const handle = async ({ req, res, record, chunks, cancel: signal }: Exchange): Promise<void> => {
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const parsed: GoDecodeResult = raw.length === 0 ? { error: 'EOF', eof: true } : parseGoJson(raw);
    record.body = 'value' in parsed ? parsed.value : raw.length > 0 ? raw.toString('utf8') : undefined;
    record.model = modelField(record.body);
    const served = record.model === undefined ? undefined : state.find(record.model);
    const statsKey =
      served?.key ?? (record.model === undefined ? '' : `unknown:${record.model.toLowerCase()}`);
    stats.count(statsKey, 'requests');
    stats.enter(statsKey, 'inFlight');
    const fault = faults.isEmpty
      ? undefined
      : faults.select({
          index: record.id,
          method: record.method,
          route: record.route,
          model: record.model,
          body: record.body,
          headers: record.headers,
        });
    record.fault = fault;
    const output = new ResponseOutput(res, record, fault, signal);
    if (record.route.startsWith('/v1/')) output.useDialect(OPENAI_DIALECT);
    try {
      await respond(req, res, record, parsed, fault, output, signal);
    } catch (error) {
      if (!res.headersSent && !res.destroyed) {
        await output.error(500, error instanceof Error ? error.message : String(error));
      } else {
        res.destroy();
      }
    } finally {
      stats.leave(statsKey, 'inFlight');
      record.endedAt = nowMs();
      if (output.destroyedBySim) record.outcome = 'destroyed';
      else if (res.writableEnded && !signal.aborted) {
        record.outcome = (record.status ?? 200) >= 400 || record.error !== undefined ? 'error' : 'completed';
      } else if (closing.aborted) record.outcome = 'sim-closed';
      else record.outcome = 'client-closed';
      if (record.status === undefined && res.headersSent) record.status = res.statusCode;
      if (!res.writableEnded && !res.destroyed && !signal.aborted) res.end();
    }
  };

  const respond = async (
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    parsed: GoDecodeResult,
    fault: Fault | undefined,
    output: ResponseOutput,
    signal: CancelSignal,
  ): Promise<void> => {
    const access = checkAccess(record.method, record.headers, loopbackBind);
    if (access.kind !== 'continue') {
      // Empty answers, as gin's AbortWithStatus sends them.
      const status = access.kind === 'refuse' ? 403 : 204;
      record.status = status;
      record.headersAt = nowMs();
      if (status === 403) record.error = '403 forbidden';
      res.writeHead(status, access.kind === 'refuse' ? { 'Content-Length': '0' } : access.headers);
      await new Promise<void>((resolve) => res.end(resolve));
      return;
    }
    if (access.headers)
      for (const [name, value] of Object.entries(access.headers)) res.setHeader(name, value);
    if (fault?.delayMs) await sleep(fault.delayMs, signal);
    if (signal.aborted) return;
    const kind = fault ? faultKind(fault) : undefined;
    if (fault && kind) {
      const extraHeaders: Record<string, string> = { ...fault.headers };
      if (fault.retryAfter !== undefined) extraHeaders['Retry-After'] = String(fault.retryAfter);
      switch (kind) {
        case 'hang':
          await sleep(2_147_483_647, signal);
          return;
        case 'reset':
          if ((fault.afterChunks ?? 0) === 0) {
            output.destroyedBySim = true;
            const socket = res.socket;
            if (socket && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
            else socket?.destroy();
            return;
          }
          break;
        case 'status': {
          const status = fault.status as number;
          if (fault.body !== undefined) {
            const isText = typeof fault.body === 'string';
            const contentType = isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
            if (status >= 400) record.error = isText ? (fault.body as string) : goJson(fault.body);
            await output.body(
              status,
              contentType,
              isText ? (fault.body as string) : goJson(fault.body),
              extraHeaders,
            );
            return;
          }
          const message = fault.message ?? defaultFaultMessage(status, record.model);
          const dialect = record.route.startsWith('/v1/') ? OPENAI_DIALECT : OLLAMA_DIALECT;
          const { contentType, body } = dialect.errorBody(status, message);
          if (status >= 400) record.error = message;
          await output.body(status, contentType, body, extraHeaders);
          return;
        }
        case 'html': {
          const status = fault.status ?? 502;
          record.error = `${status} ${STATUS_CODES[status] ?? ''}`.trim();
          await output.body(status, 'text/html', htmlPage(status), extraHeaders);
          return;
        }
        case 'empty': {
          const body = record.body as Record<string, unknown> | undefined;
          const streams = record.route.startsWith('/v1/')
            ? body?.stream === true
            : streamsByDefault(record.route) && body?.stream !== false;
          const contentType = !streams
            ? 'application/json; charset=utf-8'
            : record.route.startsWith('/v1/')
              ? 'text/event-stream'
              : 'application/x-ndjson';
          output.beginStream(contentType, { batch: false });
          await output.end();
          return;
        }
        default:
          break;
      }
    }
    const match = matchRoute(record.method, record.route);
    switch (match.kind) {
      case 'handler': {
        const context: RouteContext = {
          req,
          res,
          record,
          output,
          signal,
          fault,
          parsed,
          sim: state,
          params: match.params,
        };
        await match.handler(context);
        return;
      }
      case 'not-found':
        record.error = '404 page not found';
        await output.body(404, 'text/plain', '404 page not found');
        return;
      case 'method-not-allowed':
        record.error = '405 method not allowed';
        await output.body(405, 'text/plain', '405 method not allowed', { Allow: match.allow });
        return;
      case 'redirect': {
        const text =
          req.method === 'GET' || req.method === 'HEAD'
            ? `<a href="${match.location}">Moved Permanently</a>.\n\n`
            : '';
        await output.body(match.status, 'text/html; charset=utf-8', text, { Location: match.location });
        return;
      }
    }
  };

  const server: Server = createServer(
    { noDelay: true, keepAliveTimeout: 0, requestTimeout: 0, ServerResponse: GoServerResponse },
    onRequest,
  );
  server.keepAliveTimeout = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    else socket.destroy();
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  loopbackBind =
    typeof address === 'object' &&
    address !== null &&
    (address.address === '::1' ||
      address.address.startsWith('127.') ||
      address.address.startsWith('::ffff:127.'));
  const url = urlFor(host, port);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing.abort();
      for (const cancel of [...active]) cancel.abort();
      active.clear();
      scheduler.close();
      for (const waiter of requestWaiters) waiter.resolve();
      requestWaiters = [];
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
    });
    return closed;
  };

  const keyOf = (model: string): string => state.find(model)?.key ?? `unknown:${model.toLowerCase()}`;

  const sim: OllamaSim = {
    url,
    port,
    host,
    get requests() {
      return records;
    },
    get faults() {
      return faults.faults;
    },
    setFaults(list) {
      validateFaults('setFaults()', list);
      faults.set(list);
    },
    addFault(fault) {
      validateFault('addFault()', fault, 'fault');
      faults.add(fault);
    },
    clearFaults() {
      faults.clear();
    },
    stats(model?: string): ModelStats {
      if (model === undefined) return stats.snapshot(undefined, scheduler.loadedCount());
      const key = keyOf(model);
      return stats.snapshot(key, scheduler.isLoaded(key));
    },
    resetStats() {
      stats.reset();
    },
    clearRequests() {
      records.length = 0;
      sinceClear = 0;
    },
    waitForRequests(count, waitOptions) {
      if (sinceClear >= count) return Promise.resolve();
      const timeoutMs = waitOptions?.timeoutMs ?? 5_000;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          requestWaiters = requestWaiters.filter((waiter) => waiter !== entry);
          reject(
            new Error(`waitForRequests: ${sinceClear} of ${count} requests arrived within ${timeoutMs} ms`),
          );
        }, timeoutMs);
        timer.unref();
        const entry = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        requestWaiters.push(entry);
      });
    },
    simulatedReply(request: ReplyRequest) {
      if (typeof request.model !== 'string')
        throw new SimOptionError('simulatedReply: the request has no model', 'model', request.model);
      const model = state.find(request.model) ?? resolveModel(request.model, defaults);
      return publicReply(planReply(request, model));
    },
    modelNames() {
      return [...state.models.values()].map((model) => model.shortName);
    },
    unloadAll() {
      scheduler.unloadAll();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return sim;
}
