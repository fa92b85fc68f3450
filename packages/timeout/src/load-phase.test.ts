import { type Context, ManualClock, TimeoutError, wrap } from '@bulwark/core';
import { describe, expect, it } from 'vitest';
import { timeout } from './timeout-policy.js';

const hang = (): Promise<never> => new Promise(() => {});
const where = { model: 'llama3.2', host: 'http://127.0.0.1:11434' };

async function settle<T>(promise: Promise<T>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('timeout() while the operation waits on a model load', () => {
  it('reports phase load with the model, host and loading time; a total deadline is not retryable', async () => {
    const clock = new ManualClock(0);
    const result = settle(
      timeout(1_500).execute(
        (context: Context) => {
          // the load started 400 ms before this call joined it
          context.reportModelLoad({ type: 'wait-start', ...where, loadStartedAt: -400, at: 0 });
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(1_500);
    const error = (await result) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'load', timeoutMs: 1_500, retryable: false });
    expect(error.load).toEqual({ ...where, loadingMs: 1_900, continues: true });
    expect(error.message).toBe(
      'Timed out waiting for model "llama3.2" to load on http://127.0.0.1:11434 after 1500 ms: it has been loading for 1900 ms and the load continues',
    );
  });

  it('inside a retry the load error is retryable; after the wait ended the budget keeps its own phase', async () => {
    const clock = new ManualClock(0);
    const seen: unknown[] = [];
    const policy = timeout({ attemptMs: 500 });
    const asAttempt = (context: Context) => context.with({ attempt: 0, maxAttempts: 3 });
    const run = (operation: (context: Context) => Promise<never>) =>
      settle(
        wrap(
          {
            execute: () => Promise.reject(new Error('unused')),
            run: (context, next) => next(asAttempt(context)),
          },
          policy,
        ).execute(operation, { clock }),
      );
    const waiting = run((context) => {
      context.reportModelLoad({ type: 'wait-start', ...where, loadStartedAt: 0, at: 0 });
      return hang();
    });
    await clock.advanceAsync(500);
    seen.push(await waiting);
    const after = run((context) => {
      context.reportModelLoad({ type: 'wait-start', ...where, loadStartedAt: 0, at: clock.now() });
      context.reportModelLoad({
        type: 'wait-end',
        ...where,
        loadStartedAt: 0,
        at: clock.now(),
        waitedMs: 0,
        outcome: 'loaded',
        countsAsFailure: false,
      });
      return hang();
    });
    await clock.advanceAsync(500);
    seen.push(await after);
    expect(seen).toMatchObject([
      { phase: 'load', retryable: true, attempt: 0 },
      { phase: 'attempt', retryable: true, load: undefined },
    ]);
  });
});
