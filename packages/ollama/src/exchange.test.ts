import { AssertionError } from 'node:assert';
import { gzipSync } from 'node:zlib';
import {
  ConnectionError,
  createContext,
  ProtocolError,
  ResponseError,
  StreamError,
  TimeoutError,
} from '@bulwark/core';
import { AttemptGuard } from '@bulwark/core/internal';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { type Budgets, Exchange, type Reading } from './exchange.js';

const budgets: Budgets = { connectMs: 1_000, headersMs: 1_000, firstTokenMs: 1_000, idleMs: 1_000 };

/** A controller that records what the exchange asked of undici. */
function controller() {
  const calls: string[] = [];
  const value = {
    abort: (reason: Error) => calls.push(`abort: ${reason.message}`),
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
    aborted: false,
    paused: false,
    reason: null,
  } as unknown as Dispatcher.DispatchController;
  return { value, calls };
}

function exchange(reading: Reading = records(), signal?: AbortSignal) {
  const context = createContext({ signal, attributes: { host: 'http://127.0.0.1:1' } });
  const guard = new AttemptGuard(context);
  const it = new Exchange({ context, guard, budgets, model: 'm', reading });
  it.promise.catch(() => {});
  return { exchange: it, guard, context };
}

function records(delivered: unknown[] = []): Reading {
  return {
    kind: 'records',
    maxLineBytes: 1_000,
    handlers: {
      model: 'm',
      isFirst: () => true,
      isFinal: (record) => record.done === true,
      deliver: (record) => delivered.push(record),
    },
  };
}

const ndjson = { 'content-type': 'application/x-ndjson' };
const line = (value: unknown) => Buffer.from(`${JSON.stringify(value)}\n`);

describe('Exchange lifecycle', () => {
  it('waiting → reading → succeeded on a stream that ends with its final record', async () => {
    const delivered: unknown[] = [];
    const { exchange: ex } = exchange(records(delivered));
    const c = controller();
    ex.onRequestStart(c.value);
    expect(ex.state).toBe('waiting');
    // An informational head keeps it waiting.
    ex.onResponseStart(c.value, 100, {});
    expect(ex.state).toBe('waiting');
    ex.onResponseStart(c.value, 200, ndjson);
    expect(ex.state).toBe('reading');
    ex.onResponseData(c.value, line({ message: { content: 'a' }, done: false }));
    ex.onResponseData(c.value, line({ done: true }));
    ex.onResponseEnd();
    expect(ex.state).toBe('succeeded');
    await expect(ex.promise).resolves.toEqual({ done: true });
    expect(delivered).toHaveLength(2);
    expect(c.calls).toEqual([]);
  });

  it('decodes a gzip body through the same states', async () => {
    const { exchange: ex } = exchange({ kind: 'json', method: 'GET', path: '/api/tags' });
    const c = controller();
    ex.onRequestStart(c.value);
    ex.onResponseStart(c.value, 200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    ex.onResponseData(c.value, gzipSync(Buffer.from('{"models":[]}')));
    ex.onResponseEnd();
    await expect(ex.promise).resolves.toEqual({ models: [] });
    expect(ex.state).toBe('succeeded');
  });

  it('treats an event the table does not allow as a bug, not something to ignore', () => {
    const { exchange: early } = exchange();
    const c = controller();
    early.onRequestStart(c.value);
    expect(() => early.onResponseData(c.value, line({ done: true }))).toThrow(AssertionError);
    expect(() => early.onResponseEnd()).toThrow(/"end" cannot happen in state "waiting"/);

    const { exchange: twice } = exchange();
    twice.onRequestStart(c.value);
    twice.onResponseStart(c.value, 200, ndjson);
    expect(() => twice.onResponseStart(c.value, 200, ndjson)).toThrow(
      /"response-start" cannot happen in state "reading"/,
    );
    expect(() => twice.onRequestStart(c.value)).toThrow(AssertionError);

    const { exchange: done } = exchange();
    done.onRequestStart(c.value);
    done.onResponseStart(c.value, 200, ndjson);
    done.onResponseData(c.value, line({ done: true }));
    done.onResponseEnd();
    expect(done.state).toBe('succeeded');
    expect(() => done.onResponseData(c.value, line({ done: true }))).toThrow(AssertionError);
    expect(() => done.onResponseError(c.value, new Error('late'))).toThrow(
      /"error" cannot happen in state "succeeded"/,
    );
  });

  it('aborts a request undici takes after the exchange failed, and ignores the echo of that abort', async () => {
    const caller = new AbortController();
    const { exchange: ex } = exchange(records(), caller.signal);
    caller.abort(new Error('caller gave up'));
    expect(ex.state).toBe('failed');
    const c = controller();
    ex.onRequestStart(c.value);
    expect(c.calls).toEqual(['abort: aborted by Bulwark']);
    ex.onResponseError(c.value, new Error('aborted by Bulwark'));
    await expect(ex.promise).rejects.toThrow('caller gave up');
  });

  it('maps each way of failing to its error', async () => {
    const c = controller();
    const failing = async (drive: (ex: Exchange) => void, reading?: Reading) => {
      const { exchange: ex } = exchange(reading);
      ex.onRequestStart(c.value);
      drive(ex);
      expect(ex.state).toBe('failed');
      return ex.promise.then(
        () => undefined,
        (error: unknown) => error,
      );
    };
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(await failing((ex) => ex.onResponseError(c.value, refused))).toBeInstanceOf(ConnectionError);

    const status = await failing((ex) => {
      ex.onResponseStart(c.value, 503, { 'content-type': 'application/json', 'retry-after': '2' });
      ex.onResponseData(c.value, Buffer.from('{"error":"server busy"}'));
      ex.onResponseEnd();
    });
    expect(status).toBeInstanceOf(ResponseError);
    expect((status as ResponseError).status).toBe(503);
    expect((status as ResponseError).message).toContain('server busy');

    // The connection dropped mid-way through an error page: the status still names the failure.
    const cutStatus = await failing((ex) => {
      ex.onResponseStart(c.value, 500, {});
      ex.onResponseError(c.value, Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    });
    expect((cutStatus as ResponseError).status).toBe(500);

    const html = await failing((ex) => {
      ex.onResponseStart(c.value, 200, { 'content-type': 'text/html' });
      ex.onResponseData(c.value, Buffer.from('<p>login</p>'));
      ex.onResponseEnd();
    });
    expect(html).toBeInstanceOf(ProtocolError);
    expect((html as Error).message).toMatch(/Expected an NDJSON stream but the server sent text\/html/);

    const noFinal = await failing((ex) => {
      ex.onResponseStart(c.value, 200, ndjson);
      ex.onResponseData(c.value, line({ message: { content: 'a' }, done: false }));
      ex.onResponseEnd();
    });
    expect((noFinal as Error).message).toMatch(/without its final line/);

    const record = await failing((ex) => {
      ex.onResponseStart(c.value, 200, ndjson);
      ex.onResponseData(c.value, line({ error: 'model crashed' }));
    });
    expect(record).toBeInstanceOf(StreamError);

    const notJson = await failing(
      (ex) => {
        ex.onResponseStart(c.value, 200, { 'content-type': 'application/json' });
        ex.onResponseData(c.value, Buffer.from('{"models": ['));
        ex.onResponseEnd();
      },
      { kind: 'json', method: 'GET', path: '/api/tags' },
    );
    expect((notJson as Error).message).toMatch(/\/api\/tags with a body that is not JSON/);

    const empty = await failing(
      (ex) => {
        ex.onResponseStart(c.value, 200, { 'content-type': 'application/json' });
        ex.onResponseEnd();
      },
      { kind: 'json', method: 'POST', path: '/api/show' },
    );
    expect((empty as Error).message).toMatch(/\/api\/show with an empty body/);
  });

  it("fails with the guard's error when a budget fires, and aborts the request once", async () => {
    const { exchange: ex, guard } = exchange();
    const c = controller();
    ex.onRequestStart(c.value);
    ex.onResponseStart(c.value, 200, ndjson);
    const budget = new TimeoutError({
      phase: 'idle',
      timeoutMs: 1,
      elapsedMs: 2,
      attempt: 0,
      maxAttempts: 1,
    });
    guard.fail(budget);
    expect(ex.state).toBe('failed');
    expect(c.calls).toEqual(['abort: aborted by Bulwark']);
    // undici reports the abort it was asked for: an echo, ignored.
    ex.onResponseError(c.value, new Error('aborted by Bulwark'));
    await expect(ex.promise).rejects.toBe(budget);
  });
});
