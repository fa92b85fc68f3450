import { ResponseError, RetryBudgetExhaustedError, StreamError } from '@bulwark/core';
import { describe, expect, it } from 'vitest';
import { fallsBack } from './fallback-models.js';

describe('fallsBack', () => {
  it('judges a refusal by the retry budget by the failure it refused to retry', () => {
    const refused = (cause: unknown) => new RetryBudgetExhaustedError({ cause, ratio: 0.2 });
    expect(fallsBack(refused(new ResponseError({ status: 503 })), undefined)).toBe(true);
    expect(fallsBack(refused(new ResponseError({ status: 404 })), undefined)).toBe(false);
    expect(fallsBack(refused(new StreamError({ serverMessage: 'x', committed: true })), undefined)).toBe(
      false,
    );
    expect(fallsBack(refused(new ResponseError({ status: 503 })), AbortSignal.abort())).toBe(false);
  });
});
