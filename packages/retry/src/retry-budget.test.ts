import {
  type BulwarkError,
  type Context,
  ErrorCode,
  ManualClock,
  ResponseError,
  RetryBudgetExhaustedError,
} from '@bulwark/core';
import { ConstantBackoff } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.js';
import { retry } from './retry-policy.js';
import type { RetryBudgetExhaustedEvent, RetryGiveUpEvent } from './types.js';

const alwaysBusy = (): Promise<never> => Promise.reject(new ResponseError({ status: 503 }));

describe('RetryBudget', () => {
  it('allows minRetries plus ratio × calls over a sliding window', () => {
    const clock = new ManualClock(0);
    const budget = new RetryBudget({ ratio: 0.5, windowMs: 1_000, minRetries: 2, clock });
    for (let call = 0; call < 4; call++) budget.recordCall();
    expect(budget.remaining()).toBe(4);
    expect([1, 2, 3, 4, 5].map(() => budget.tryRetry())).toEqual([true, true, true, true, false]);
    expect(budget.remaining()).toBe(0);
    // 900 ms later the calls and retries are still in the window
    clock.advance(900);
    expect(budget.tryRetry()).toBe(false);
    // past the window they have left it; only the floor remains
    clock.advance(100);
    expect(budget.remaining()).toBe(2);
    // partial expiry: calls recorded later stay while earlier ones leave
    budget.recordCall();
    budget.recordCall();
    clock.advance(500);
    budget.recordCall();
    budget.recordCall();
    expect(budget.remaining()).toBe(4);
    clock.advance(500);
    expect(budget.remaining()).toBe(3);
    clock.advance(60_000);
    expect(budget.remaining()).toBe(2);
  });
});

describe('retry() budget', () => {
  it('holds a burst of 1,000 failing calls to about 20% retries', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), clock });
    const exhausted: RetryBudgetExhaustedEvent[] = [];
    policy.onBudgetExhausted((event) => exhausted.push(event));
    const reasons = new Map<string, number>();
    policy.onGiveUp(({ reason }) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1));
    let attempts = 0;
    const calls = Array.from({ length: 1_000 }, (_, index) =>
      policy
        .execute(
          () => {
            attempts++;
            return alwaysBusy();
          },
          { clock, attributes: { model: 'llama3.2', call: index } },
        )
        .catch((error: unknown) => error),
    );
    const errors = await Promise.all(calls);
    const retries = attempts - 1_000;
    // 20% of 1,000 calls, plus the floor of 10 retries per window
    expect(retries).toBeLessThanOrEqual(210);
    expect(retries).toBeGreaterThanOrEqual(200);
    expect(exhausted.length).toBeGreaterThan(700);
    expect(reasons.get('budget')).toBe(exhausted.length);
    expect(policy.state().remaining).toBe(0);
    // the call fails with RetryBudgetExhaustedError, the last error as its cause, and the event
    // carries the call's context
    const refused = errors.filter((error) => RetryBudgetExhaustedError.is(error));
    expect(refused).toHaveLength(exhausted.length);
    expect(refused[0]).toMatchObject({
      code: ErrorCode.RetryBudgetExhausted,
      retryable: false,
    });
    expect((refused[0] as BulwarkError).message).toContain('20% of recent calls');
    expect(refused[0]?.cause).toBeInstanceOf(ResponseError);
    expect(refused.map((error) => error.cause)).toContain(exhausted[0]?.error);
    // every other call failed with the error of its last attempt
    expect(errors.filter((error) => error instanceof ResponseError)).toHaveLength(1_000 - exhausted.length);
    expect(exhausted[0]?.key).toBe('default');
    expect(exhausted[0]?.context.attributes).toMatchObject({ model: 'llama3.2' });
    // each event carries its own call's context: the calls refused are different calls
    const refusedCalls = new Set(exhausted.map((event) => event.context.attributes.call));
    expect(refusedCalls.size).toBe(exhausted.length);
    // the window slides: ten seconds later the budget is back to its floor
    clock.advance(10_000);
    expect(policy.state().remaining).toBe(10);
    expect([...policy.states()].map(([key, status]) => [key, status.remaining])).toEqual([['default', 10]]);
    // the former names are aliases
    expect(policy.budgetRemaining()).toBe(10);
    expect([...policy.budgets()]).toEqual([['default', 10]]);
    expect(policy.kind).toBe('retry');
  });

  it('turns off with budget: false', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), budget: false });
    let attempts = 0;
    await Promise.all(
      Array.from({ length: 200 }, () =>
        policy
          .execute(() => {
            attempts++;
            return alwaysBusy();
          })
          .catch(() => {}),
      ),
    );
    expect(attempts).toBe(600);
    expect(policy.state().remaining).toBe(Number.POSITIVE_INFINITY);
    expect([...policy.states()].map(([key, status]) => [key, status.remaining])).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('keeps one budget per key and times its window on the policy clock', async () => {
    const clock = new ManualClock();
    const callClock = new ManualClock();
    const policy = retry({
      maxAttempts: 2,
      backoff: new ConstantBackoff(0),
      key: 'model',
      budget: { ratio: 0.1, minRetries: 1, windowMs: 1_000 },
      clock,
    });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((event) => giveUps.push(event));
    const contexts: Context[] = [];
    const call = (model: string) =>
      policy
        .execute(
          (context) => {
            contexts.push(context);
            return alwaysBusy();
          },
          { clock: callClock, attributes: { model } },
        )
        .catch(() => {});
    for (let index = 0; index < 10; index++) await call('a');
    // 1 + 10% of 10 calls = 2 retries for "a"
    expect(contexts.filter((context) => context.attempt === 1)).toHaveLength(2);
    expect(policy.state('a').remaining).toBe(0);
    expect(policy.state('b').remaining).toBe(1);
    await call('b');
    expect(contexts.at(-1)?.attempt).toBe(1);
    expect(policy.state('b').remaining).toBe(0);
    expect([...policy.states()].map(([key, status]) => [key, status.remaining])).toEqual([
      ['a', 0],
      ['b', 0],
    ]);
    // time on the calls' clock does not move the window; the policy's clock does
    callClock.advance(5_000);
    expect(policy.state('a').remaining).toBe(0);
    clock.advance(1_000);
    expect(policy.state('a').remaining).toBe(1);
    expect(giveUps.filter((event) => event.reason === 'budget').length).toBeGreaterThan(0);
  });
});

describe('retry() budget and extra requests', () => {
  it('an attempt pays for an extra request (a hedge) from the same budget as retries', async () => {
    const clock = new ManualClock();
    const policy = retry({
      maxAttempts: 3,
      backoff: new ConstantBackoff(0),
      clock,
      budget: { ratio: 0, minRetries: 2 },
    });
    const paid: boolean[] = [];
    for (let call = 0; call < 4; call++) {
      await policy.execute(async (context: Context) => {
        paid.push(await context.spendRetry());
      });
    }
    // Two retries per window: the first two extra requests are paid for, then none.
    expect(paid).toEqual([true, true, false, false]);
    expect(policy.budgetRemaining()).toBe(0);
    // The spent budget now refuses a real retry too.
    const reasons: string[] = [];
    policy.onGiveUp((event) => reasons.push(event.reason));
    let attempts = 0;
    await expect(
      policy.execute(() => {
        attempts++;
        return alwaysBusy();
      }),
    ).rejects.toThrow();
    expect(attempts).toBe(1);
    expect(reasons).toEqual(['budget']);
  });

  it('without a retry policy, or with budget: false, an extra request is always allowed', async () => {
    const policy = retry({ maxAttempts: 2, budget: false });
    expect(await policy.execute((context: Context) => context.spendRetry())).toBe(true);
  });
});
