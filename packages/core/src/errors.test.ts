import { describe, expect, it, vi } from 'vitest';
import {
  BulkheadRejectedError,
  BulwarkError,
  CircuitOpenError,
  ErrorCode,
  ResponseError,
  RetryBudgetExhaustedError,
  TimeoutError,
} from './errors.js';

describe('BulwarkError', () => {
  it('is recognised across two copies of the module', async () => {
    vi.resetModules();
    const copy = (await import(
      /* @vite-ignore */ `./errors.ts?copy=${Date.now()}`
    )) as typeof import('./errors.js');
    expect(copy.BulwarkError).not.toBe(BulwarkError);
    const foreign = new copy.TimeoutError({ phase: 'headers', timeoutMs: 10, elapsedMs: 11 });
    expect(foreign instanceof BulwarkError).toBe(false);
    expect(BulwarkError.is(foreign)).toBe(true);
    expect(copy.BulwarkError.is(new BulwarkError('x', { code: 'ERR_BULWARK_X' }))).toBe(true);
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
