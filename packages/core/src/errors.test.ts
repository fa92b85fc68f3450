import { describe, expect, it, vi } from 'vitest';
import {
  BulkheadRejectedError,
  BulwarkError,
  CircuitOpenError,
  ConnectionError,
  ErrorCode,
  InvalidOptionError,
  isTimeout,
  ProtocolError,
  ResponseError,
  RetryBudgetExhaustedError,
  StreamError,
  TimeoutError,
} from './errors.js';

type Errors = typeof import('./errors.js');

/** One instance of every error class, made by the given copy of the module. */
function everyKind(module: Errors) {
  return {
    TimeoutError: new module.TimeoutError({ phase: 'headers', timeoutMs: 10, elapsedMs: 11 }),
    CircuitOpenError: new module.CircuitOpenError({ key: 'k', state: 'open' }),
    BulkheadRejectedError: new module.BulkheadRejectedError({ key: 'k', limit: 1, queue: 0 }),
    RetryBudgetExhaustedError: new module.RetryBudgetExhaustedError({ cause: new Error('x'), ratio: 0.1 }),
    InvalidOptionError: new module.InvalidOptionError('bad', 'option'),
    ResponseError: new module.ResponseError({ status: 503 }),
    ConnectionError: new module.ConnectionError({ reason: 'refused', message: 'refused' }),
    StreamError: new module.StreamError({ serverMessage: 'boom', committed: false }),
    ProtocolError: new module.ProtocolError('bad line'),
  } as const;
}

describe('BulwarkError', () => {
  it('is recognised across two copies of the module', async () => {
    vi.resetModules();
    const copy = (await import(
      /* @vite-ignore */ `./errors.ts?copy=${Date.now()}`
    )) as typeof import('./errors.js');
    expect(copy.BulwarkError).not.toBe(BulwarkError);
    const foreign = new copy.TimeoutError({ phase: 'headers', timeoutMs: 10, elapsedMs: 11 });
    expect(foreign instanceof BulwarkError).toBe(true);
    expect(BulwarkError.is(foreign)).toBe(true);
    expect(copy.BulwarkError.is(new BulwarkError('x', { code: 'ERR_BULWARK_X' }))).toBe(true);
  });

  it('gives every class its own brand: is() and instanceof recognise only their kind, across two copies', async () => {
    vi.resetModules();
    const copy = (await import(/* @vite-ignore */ `./errors.ts?brands=${Date.now()}`)) as Errors;
    const here = await import('./errors.js');
    const names = Object.keys(everyKind(here)) as (keyof ReturnType<typeof everyKind>)[];
    expect(names).toHaveLength(9);
    for (const [maker, checker] of [
      [copy, here],
      [here, copy],
      [here, here],
    ] as const) {
      const made = everyKind(maker);
      for (const name of names) {
        for (const other of names) {
          const error = made[other];
          const same = name === other;
          expect(checker[name].is(error), `${name}.is(${other})`).toBe(same);
          expect(error instanceof checker[name], `${other} instanceof ${name}`).toBe(same);
        }
        expect(checker.BulwarkError.is(made[name])).toBe(true);
        expect(made[name] instanceof checker.BulwarkError).toBe(true);
      }
    }
    expect(TimeoutError.is(new CircuitOpenError({ key: 'k', state: 'open' }))).toBe(false);
    expect(CircuitOpenError.is(new TimeoutError({ phase: 'total', timeoutMs: 1, elapsedMs: 1 }))).toBe(false);
    expect(new Error('x') instanceof BulwarkError).toBe(false);
  });

  it('narrows by code to the class', () => {
    // Type-checked by tsconfig.check.json: `phase` exists on TimeoutError only.
    const phaseOf = (error: unknown): string | undefined =>
      BulwarkError.is(error) && error.code === ErrorCode.Timeout ? error.phase : undefined;
    const keyOf = (error: unknown): string | undefined => {
      if (!BulwarkError.is(error) || error.code !== ErrorCode.CircuitOpen) return undefined;
      // @ts-expect-error a CircuitOpenError has no phase: the code narrowed to that class
      void error.phase;
      return error.key;
    };
    expect(phaseOf(new TimeoutError({ phase: 'idle', timeoutMs: 5, elapsedMs: 6 }))).toBe('idle');
    expect(phaseOf(new CircuitOpenError({ key: 'k', state: 'open' }))).toBeUndefined();
    expect(keyOf(new CircuitOpenError({ key: 'k', state: 'open' }))).toBe('k');
  });

  it('is false for look-alikes and primitives', () => {
    expect(BulwarkError.is(new Error('x'))).toBe(false);
    expect(BulwarkError.is({ code: ErrorCode.Timeout, name: 'BulwarkTimeoutError' })).toBe(false);
    expect(BulwarkError.is(null)).toBe(false);
    expect(BulwarkError.is('ERR_BULWARK_TIMEOUT')).toBe(false);
  });

  it('keeps cause, code and retryable', () => {
    const cause = new Error('socket hang up');
    const error = new BulwarkError('wrapped', { code: 'ERR_BULWARK_TEST', retryable: true, cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe('ERR_BULWARK_TEST');
    expect(error.retryable).toBe(true);
    expect(error.committed).toBe(false);
  });
});

describe('TimeoutError', () => {
  it('names the budget, its size and the attempt', () => {
    const error = new TimeoutError({
      phase: 'first-token',
      timeoutMs: 60_000,
      elapsedMs: 60_004,
      attempt: 1,
      maxAttempts: 3,
    });
    expect(error.name).toBe('BulwarkTimeoutError');
    expect(error.message).toBe('Timed out waiting for the first token after 60000 ms (attempt 2 of 3)');
    expect(error.code).toBe(ErrorCode.Timeout);
    expect(error.phase).toBe('first-token');
    expect(error.retryable).toBe(true);
  });

  it('is not retryable for the total budget', () => {
    expect(new TimeoutError({ phase: 'total', timeoutMs: 1, elapsedMs: 1 }).retryable).toBe(false);
  });
});

describe('isTimeout', () => {
  it("covers Bulwark's timeouts and a caller's AbortSignal.timeout(), and nothing else", async () => {
    expect(isTimeout(new TimeoutError({ phase: 'connect', timeoutMs: 1, elapsedMs: 1 }))).toBe(true);
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    expect(isTimeout(signal.reason)).toBe(true);
    const cancelled = new AbortController();
    cancelled.abort();
    expect(isTimeout(cancelled.signal.reason)).toBe(false);
    expect(isTimeout(new CircuitOpenError({ key: 'k', state: 'open' }))).toBe(false);
    expect(isTimeout(new ConnectionError({ reason: 'refused', message: 'x' }))).toBe(false);
    expect(isTimeout({ name: 'TimeoutError' })).toBe(false);
    expect(isTimeout(new InvalidOptionError('x', 'y'))).toBe(false);
    expect(isTimeout(new StreamError({ serverMessage: 'x', committed: false }))).toBe(false);
    expect(isTimeout(new ProtocolError('x'))).toBe(false);
  });
});

describe('other errors', () => {
  it('say what was refused and why', () => {
    const open = new CircuitOpenError({ key: 'llama3.2', state: 'open', retryAt: 31_000, now: 1_000 });
    expect(open.message).toBe('Circuit breaker "llama3.2" is open; next probe in 30000 ms');
    expect(open.code).toBe(ErrorCode.CircuitOpen);
    const full = new BulkheadRejectedError({ key: 'http://127.0.0.1:11434', limit: 4, queue: 64 });
    expect(full.message).toBe('Bulkhead "http://127.0.0.1:11434" is full: 4 running and 64 queued');
    const cause = new Error('503');
    const budget = new RetryBudgetExhaustedError({ cause, ratio: 0.2 });
    expect(budget.cause).toBe(cause);
    expect(budget.message).toMatch(/20%/);
  });

  it('classifies statuses as retryable or not', () => {
    for (const status of [408, 429, 500, 502, 503, 504])
      expect(new ResponseError({ status }).retryable).toBe(true);
    for (const status of [400, 401, 403, 404, 405])
      expect(new ResponseError({ status }).retryable).toBe(false);
    const error = new ResponseError({ status: 404, serverMessage: "model 'x' not found", model: 'x' });
    expect(error.message).toBe(`Server answered 404 for model "x": model 'x' not found`);
  });
});
