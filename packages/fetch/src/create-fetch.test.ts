import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import {
  BulwarkError,
  ConnectionError,
  type Context,
  definePolicy,
  ErrorCode,
  fromCockatiel,
  InvalidOptionError,
  type ResponseError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { retry as cockatielRetry, handleWhen } from 'cockatiel';
import { Agent } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFetch } from './create-fetch.js';
import type { BulwarkFetch } from './types.js';

type Handler = (request: IncomingMessage, response: ServerResponse, index: number) => void;

const servers: Server[] = [];
const fetches: BulwarkFetch[] = [];

async function serve(
  handler: Handler,
): Promise<{ url: string; seen: Array<{ method: string; body: string }> }> {
  const seen: Array<{ method: string; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      seen.push({ method: request.method ?? '', body });
      handler(request, response, seen.length - 1);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function make(options: Parameters<typeof createFetch>[0] = {}): BulwarkFetch {
  const fetch = createFetch(options);
  fetches.push(fetch);
  return fetch;
}

/** Retries errors marked retryable, up to 3 attempts, with no delay. */
const retryRetryable = () =>
  fromCockatiel(
    cockatielRetry(
      handleWhen((error) => BulwarkError.is(error) && error.retryable),
      { maxAttempts: 2 },
    ),
  );

/** Records how each attempt's operation settled. */
function recorder() {
  const outcomes: Array<{ ok: boolean; error?: unknown; at: number }> = [];
  const policy = definePolicy(async (context: Context, next) => {
    try {
      const value = await next(context);
      outcomes.push({ ok: true, at: Date.now() });
      return value;
    } catch (error) {
      outcomes.push({ ok: false, error, at: Date.now() });
      throw error;
    }
  });
  return { policy, outcomes };
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(fetches.splice(0).map((fetch) => fetch.close()));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

describe('createFetch()', () => {
  it('answers like fetch: status, headers, body and url', async () => {
    const { url } = await serve((_, response) => {
      response.setHeader('x-test', 'yes');
      response.end('hello');
    });
    const fetch = make();
    const response = await fetch(`${url}/path`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-test')).toBe('yes');
    expect(response.url).toBe(`${url}/path`);
    expect(await response.text()).toBe('hello');
  });

  it('retries a 503 and returns the answer that followed', async () => {
    const { url, seen } = await serve((_, response, index) => {
      if (index === 0) {
        response.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
        response.end('{"error":"server busy, please try again.  maximum pending requests exceeded"}');
      } else response.end('{"ok":true}');
    });
    const fetch = make({ policy: retryRetryable() });
    const response = await fetch(`${url}/api/chat`, { method: 'POST', body: '{"model":"llama3.2"}' });
    expect(await response.json()).toEqual({ ok: true });
    expect(seen).toHaveLength(2);
    expect(seen[1]?.body).toBe('{"model":"llama3.2"}');
  });

  it('gives the last error status back as a Response, with its body and Retry-After', async () => {
    const { url, seen } = await serve((_, response) => {
      response.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
      response.end('{"error":{"message":"slow down"}}');
    });
    const { policy, outcomes } = recorder();
    const fetch = make({ policy: wrap(retryRetryable(), policy) });
    const response = await fetch(url);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({ error: { message: 'slow down' } });
    expect(seen).toHaveLength(3);
    const error = outcomes[0]?.error as ResponseError;
    expect(error.code).toBe(ErrorCode.HttpStatus);
    expect(error.retryAfterMs).toBe(7000);
    expect(error.serverMessage).toBe('slow down');
  });

  it('does not replay a POST after a 500 unless told it is safe', async () => {
    const failing = await serve((_, response) => {
      response.statusCode = 500;
      response.end('boom');
    });
    const strict = make({ policy: retryRetryable() });
    expect((await strict(failing.url, { method: 'POST', body: 'x' })).status).toBe(500);
    expect(failing.seen).toHaveLength(1);

    const lenient = make({ policy: retryRetryable(), retryNonIdempotent: true });
    expect((await lenient(failing.url, { method: 'POST', body: 'x' })).status).toBe(500);
    expect(failing.seen).toHaveLength(4);
  });

  it('does not re-send a POST after a headers or first-token timeout unless told it is safe', async () => {
    const silent = await serve(() => {});
    const strict = make({ policy: retryRetryable(), headersMs: 200 });
    const headersError = await strict(silent.url, { method: 'POST', body: 'x' }).catch((caught) => caught);
    expect(headersError).toMatchObject({ phase: 'headers', retryable: false });
    expect(silent.seen).toHaveLength(1);

    const mute = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'application/x-ndjson' });
      response.flushHeaders();
    });
    const strictBody = make({ policy: retryRetryable(), firstTokenMs: 200 });
    const response = await strictBody(mute.url, { method: 'POST', body: 'x' });
    const firstTokenError = await response.text().catch((caught: unknown) => caught);
    expect(firstTokenError).toMatchObject({ phase: 'first-token', retryable: false });
    expect(mute.seen).toHaveLength(1);

    const lenient = make({ policy: retryRetryable(), headersMs: 200, retryNonIdempotent: true });
    const replayed = await lenient(silent.url, { method: 'POST', body: 'x' }).catch((caught) => caught);
    expect(replayed).toMatchObject({ phase: 'headers', retryable: true });
    expect(silent.seen).toHaveLength(4);

    const idempotent = make({ policy: retryRetryable(), headersMs: 200 });
    await idempotent(silent.url).catch(() => {});
    expect(silent.seen).toHaveLength(7);
  });

  it('fires the headers budget at its own size, not undici’s', async () => {
    const { url } = await serve((_, response) => {
      setTimeout(() => response.end('late'), 3000).unref();
    });
    // undici's own headers timer runs too, and is longer: only Bulwark's timer can fire at 300 ms.
    const dispatcher = new Agent({ headersTimeout: 2_000 });
    try {
      const fetch = make({ headersMs: 300, dispatcher });
      const started = Date.now();
      const error = await fetch(url).catch((caught: unknown) => caught);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).phase).toBe('headers');
      expect((error as TimeoutError).timeoutMs).toBe(300);
      expect((error as TimeoutError).cause).toBeUndefined();
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1_900);
    } finally {
      await dispatcher.destroy();
    }
  });

  it('fires the first-token budget when headers come but no byte follows', async () => {
    const { url } = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.flushHeaders();
    });
    const { policy, outcomes } = recorder();
    const fetch = make({ policy, firstTokenMs: 300 });
    const response = await fetch(url);
    const error = await response.text().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('first-token');
    expect(outcomes).toEqual([expect.objectContaining({ ok: false, error })]);
  });

  it('fires the idle budget when a stream stalls mid-way, and the attempt fails with it', async () => {
    const { url } = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'application/x-ndjson' });
      response.write('{"n":1}\n');
    });
    const { policy, outcomes } = recorder();
    const fetch = make({ policy, idleMs: 300 });
    const response = await fetch(url);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('{"n":1}\n');
    const error = await reader.read().catch((caught: unknown) => caught);
    expect((error as TimeoutError).phase).toBe('idle');
    expect((error as TimeoutError).committed).toBe(true);
    await vi.waitFor(() => expect(outcomes).toEqual([expect.objectContaining({ ok: false, error })]));
  });

  it('keeps the attempt open until the body is read, and ends it when the caller cancels', async () => {
    const { url } = await serve((_, response) => {
      response.write('a');
      setTimeout(() => response.end('b'), 100).unref();
    });
    const { policy, outcomes } = recorder();
    const fetch = make({ policy });
    const response = await fetch(url);
    expect(outcomes).toHaveLength(0);
    expect(await response.text()).toBe('ab');
    await vi.waitFor(() => expect(outcomes).toEqual([expect.objectContaining({ ok: true })]));

    const endless = await serve((_, res) => {
      res.write('x');
    });
    const second = await fetch(endless.url);
    const reader = second.body!.getReader();
    await reader.read();
    expect(outcomes).toHaveLength(1);
    await reader.cancel();
    await vi.waitFor(() => expect(outcomes).toHaveLength(2));
    expect(outcomes[1]?.ok).toBe(true);
  });

  it("rejects with the caller's own reason, before headers and mid-body", async () => {
    const { url } = await serve((request, response) => {
      if (request.url === '/stream') response.write('x');
    });
    const fetch = make();
    const controller = new AbortController();
    const reason = { why: 'user pressed stop' };
    const pending = fetch(url, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);

    const second = new AbortController();
    const response = await fetch(`${url}/stream`, { signal: second.signal });
    const reader = response.body!.getReader();
    await reader.read();
    second.abort(reason);
    await expect(reader.read()).rejects.toBe(reason);
    expect(Object.keys(reason)).toEqual(['why']);
  });

  it('names a refused connection and retries it', async () => {
    const probe = await serve(() => {});
    const closedUrl = probe.url;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const { policy, outcomes } = recorder();
    const fetch = make({ policy: wrap(retryRetryable(), policy) });
    const error = await fetch(closedUrl, { method: 'POST', body: 'x' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).reason).toBe('refused');
    expect((error as ConnectionError).message).toBe(
      `Could not connect (ECONNREFUSED): ${new URL(closedUrl).origin}`,
    );
    expect(outcomes).toHaveLength(3);
  });

  it('fires the connect budget with a connector that never connects', async () => {
    const original = net.connect;
    vi.spyOn(net, 'connect').mockImplementation(((...args: unknown[]) => {
      const socket = (original as (...a: unknown[]) => net.Socket)(...args);
      socket.pause();
      // Never report the connection: undici keeps waiting for it.
      const emit = socket.emit.bind(socket) as (event: string, ...rest: unknown[]) => boolean;
      socket.emit = ((event: string, ...rest: unknown[]) =>
        event === 'connect' || event === 'secureConnect' ? false : emit(event, ...rest)) as never;
      return socket;
    }) as typeof net.connect);
    const { url } = await serve((_, response) => response.end('never'));
    const fetch = make({ connectMs: 300 });
    const started = Date.now();
    const error = await fetch(url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('connect');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('puts the model of a JSON body and the origin into the attributes', async () => {
    const { url } = await serve((_, response) => response.end('{}'));
    let seen: Record<string, unknown> = {};
    const fetch = make({
      policy: definePolicy((context, next) => {
        seen = { ...context.attributes };
        return next(context);
      }),
    });
    await (
      await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-secret' },
        body: JSON.stringify({ model: 'gpt-oss', messages: [] }),
      })
    ).text();
    expect(seen).toEqual({ operation: 'fetch', host: url, method: 'POST', model: 'gpt-oss' });
  });

  it('rejects bad URLs clearly, never echoing credentials', async () => {
    const fetch = make();
    await expect(fetch('javascript:alert(1)')).rejects.toThrowError(
      /only http: and https: URLs are supported, got javascript:/,
    );
    await expect(fetch('not a url')).rejects.toThrowError(/invalid URL "not a url"/);
    const error = (await fetch('http://user:hunter2@127.0.0.1:9/').catch(
      (caught: unknown) => caught,
    )) as Error;
    expect(error.message).toMatch(/carries credentials/);
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects bad options at construction, naming them', () => {
    expect(() => createFetch({ headersMs: -1 })).toThrowError(InvalidOptionError);
    expect(() => createFetch({ headersMs: Number.NaN })).toThrowError(/option "headersMs" .* got NaN/);
    expect(() => createFetch({ idleMs: 2_147_483_648 })).toThrowError(
      /"idleMs" must be a number of milliseconds from 1 to 2147483647, or Infinity/,
    );
    expect(() => createFetch({ retryNonIdempotent: 'yes' as never })).toThrowError(/"retryNonIdempotent"/);
    expect(() => createFetch({ timeout: 5 } as never)).toThrowError(/unknown option "timeout"/);
  });
});
