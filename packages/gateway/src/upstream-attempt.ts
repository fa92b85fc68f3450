import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import {
  AttemptGuard,
  classifyBodyFailure,
  classifyRequestFailure,
  finalGuardFailure,
  serverMessage,
  targetText,
} from '@bulwark/core/internal';
import type { FleetHost, HostLease } from '@bulwark/ollama/internal';
import { type Context, parseRetryAfter, ResponseError } from 'bulwark';
import type { Dispatcher } from 'undici';

/** Phase budgets when no timeout policy sets them (undici's own timers are off). */
export const ATTEMPT_DEFAULTS = {
  connectMs: 10_000,
  headersMs: 300_000,
  idleMs: 120_000,
  /** The most of an upstream error body kept, to answer the client with it. */
  maxErrorBodyBytes: 1_048_576,
} as const;

/** Statuses that say the server did not process the request: replayable whatever the method. */
const NOT_PROCESSED_STATUSES: ReadonlySet<number> = new Set([408, 429, 503]);
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** Headers never passed back to the client (RFC 9110 §7.6.1). */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** An upstream error answer, kept so the client gets it as it was once the policy gives up. */
export interface StoredAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** One proxied request, as every attempt sends it. */
export interface UpstreamRequest {
  /** Path and query, e.g. `/api/chat`. */
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  /** The client's body, read whole: sent as it is, every attempt. */
  body: Buffer | undefined;
  model: string | undefined;
  /** Whether a replay is safe once the request may have reached the upstream. */
  replaySafe: boolean;
}

/** What an attempt needs from the gateway. */
export interface AttemptTarget {
  dispatcher: Dispatcher;
  /** Takes a host for this attempt (the fleet's routing, avoiding hosts this call already tried). */
  acquire(): HostLease;
  /** Where a host of the fleet is: its origin, and the path its API is under (`''` at the root). */
  addressOf(host: FleetHost): { origin: string; prefix: string };
  /** The caller's signal: the client closed its connection. */
  clientSignal: AbortSignal;
  /** Error answers of this call, by the error the policy saw. */
  stored: WeakMap<object, StoredAnswer>;
  /** Called once when the answer's headers leave, with its status. */
  onCommit(status: number, host: FleetHost): void;
  /** Called once with the first chunk of the body. */
  onFirstChunk(): void;
}

export function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = new Set(
    String(headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((name) => name.trim()),
  );
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP_RESPONSE.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readBounded(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= limit) break;
  }
  discard(body);
  const whole = Buffer.concat(chunks);
  return whole.byteLength > limit ? whole.subarray(0, limit) : whole;
}

/** Lets go of an upstream body; undici reports that as an error nobody needs. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * Writes each chunk of `body` to the client as it comes, pausing the upstream while the client's
 * buffer is full. Resolves when the body ends, rejects when it fails (a budget that fires aborts
 * the request, which fails the body).
 */
function passThrough(
  body: Dispatcher.ResponseData['body'],
  response: ServerResponse,
  on: { waiting(): void; paused(): void; first(): void },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let first = true;
    let corked = false;
    // Chunks read from the upstream in one go leave to the client in one write.
    const uncork = () => {
      corked = false;
      response.uncork();
    };
    const onDrain = () => {
      on.waiting();
      body.resume();
    };
    const onData = (chunk: Buffer) => {
      if (first) {
        first = false;
        on.first();
      }
      on.waiting();
      if (!corked) {
        corked = true;
        response.cork();
        process.nextTick(uncork);
      }
      if (!response.write(chunk)) {
        on.paused();
        body.pause();
        response.once('drain', onDrain);
      }
    };
    const done = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      response.off('drain', onDrain);
    };
    const onEnd = () => {
      done();
      resolve();
    };
    const onError = (error: unknown) => {
      done();
      reject(error);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    on.waiting();
  });
}

/**
 * One attempt of a proxied request, on the host the fleet picks: sends the body as it is with
 * undici's `request`, and once the upstream answers below 400, commits, writes the headers to
 * the client and passes each chunk through unchanged. The attempt lasts until the body ends, so a
 * bulkhead slot is held for a stream's life. An answer of 400 or more is an error inside the
 * policy (retry and breaker see it) and is kept in `stored` to be answered as it was.
 */
export async function upstreamAttempt(
  context: Context,
  request: UpstreamRequest,
  response: ServerResponse,
  target: AttemptTarget,
): Promise<void> {
  const lease = target.acquire();
  const { origin, prefix } = target.addressOf(lease.host);
  const where = targetText(lease.host.origin, request.model);
  const budgets = context.budgets;
  const connectMs = budgets.connectMs ?? ATTEMPT_DEFAULTS.connectMs;
  const guard = new AttemptGuard(context);
  let outcome: unknown;
  try {
    guard.start('headers', budgets.headersMs ?? ATTEMPT_DEFAULTS.headersMs);
    guard.start('first-token', budgets.firstTokenMs);
    let upstream: Dispatcher.ResponseData;
    try {
      upstream = await Promise.race([
        target.dispatcher.request({
          origin,
          path: prefix + request.path,
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body,
          signal: guard.signal,
        }),
        guard.failed,
      ]);
    } catch (error) {
      if (guard.failure !== undefined) throw finalGuardFailure(guard, request.replaySafe, context);
      throw classifyRequestFailure(error, {
        replaySafe: request.replaySafe,
        connectMs,
        elapsedMs: guard.elapsedMs(),
        attempt: context.attempt,
        maxAttempts: context.maxAttempts,
        target: where,
        host: lease.host.origin,
      });
    }
    guard.clear('headers');
    const status = upstream.statusCode;
    const headers = responseHeaders(upstream.headers);

    if (status >= 400) {
      let body: Buffer;
      try {
        body = await Promise.race([
          readBounded(upstream.body, ATTEMPT_DEFAULTS.maxErrorBodyBytes),
          guard.failed,
        ]);
      } catch (error) {
        discard(upstream.body);
        if (guard.failure !== undefined) throw finalGuardFailure(guard, request.replaySafe, context);
        throw classifyBodyFailure(error, false, request.replaySafe, where, lease.host.origin);
      }
      const error = new ResponseError({
        status,
        serverMessage: serverMessage(body, first(upstream.headers['content-type'])),
        retryAfterMs: parseRetryAfter(first(upstream.headers['retry-after']), Date.now()),
        retryable:
          NOT_PROCESSED_STATUSES.has(status) || (RETRYABLE_STATUSES.has(status) && request.replaySafe),
        model: request.model,
        host: lease.host.origin,
      });
      target.stored.set(error, { status, headers, body });
      throw error;
    }

    context.commit();
    if (response.destroyed) {
      discard(upstream.body);
      return;
    }
    response.writeHead(status, headers);
    target.onCommit(status, lease.host);
    if (request.method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
      discard(upstream.body);
      response.end();
      return;
    }

    const idleMs = budgets.idleMs ?? ATTEMPT_DEFAULTS.idleMs;
    const body = upstream.body;
    try {
      await passThrough(body, response, {
        // Restarting a running budget only moves its start: no timer is made per chunk.
        waiting: () => guard.start('idle', idleMs),
        // While the client is slow to take chunks, the upstream is not the one being idle.
        paused: () => guard.clear('idle'),
        first: () => {
          guard.clear('first-token');
          context.firstChunk();
          target.onFirstChunk();
        },
      });
    } catch (error) {
      discard(body);
      // The upstream failed after the answer started: the client sees its connection cut.
      response.destroy();
      if (target.clientSignal.aborted) return;
      throw guard.failure !== undefined
        ? finalGuardFailure(guard, request.replaySafe, context)
        : classifyBodyFailure(error, true, request.replaySafe, where, lease.host.origin);
    }
    response.end();
  } catch (error) {
    outcome = error;
    throw error;
  } finally {
    guard.dispose();
    lease.release(outcome, target.clientSignal);
  }
}
