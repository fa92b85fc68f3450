import { type Context, ManualClock, type ModelLoadWait, ResponseError, TimeoutError } from '@bulwark/core';
import { ConsecutiveBreaker } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from './circuit-breaker-policy.js';
import type { OutcomeEvent } from './types.js';

const where = { model: 'llama3.2', host: 'http://127.0.0.1:11434', loadStartedAt: 0 };
const start: ModelLoadWait = { type: 'wait-start', ...where, at: 0 };
const end = (
  outcome: 'loaded' | 'failed' | 'left',
  countsAsFailure = false,
  waitedMs = 0,
): ModelLoadWait => ({
  type: 'wait-end',
  ...where,
  at: waitedMs,
  waitedMs,
  outcome,
  countsAsFailure,
});

function setup(options: Parameters<typeof circuitBreaker>[0] = {}) {
  const clock = new ManualClock(0);
  const policy = circuitBreaker({ clock, breaker: () => new ConsecutiveBreaker(1), ...options });
  const outcomes: string[] = [];
  policy.onOutcome((event: OutcomeEvent) => outcomes.push(event.outcome));
  return { clock, policy, outcomes };
}

describe('circuitBreaker() and waits on a model load', () => {
  it('does not count a call that failed while it waited on a load', async () => {
    const { policy, outcomes } = setup();
    const timedOut = new TimeoutError({ phase: 'load', timeoutMs: 1_000, elapsedMs: 1_000 });
    await expect(
      policy.execute((context: Context) => {
        context.reportModelLoad(start);
        context.reportModelLoad(end('left'));
        throw timedOut;
      }),
    ).rejects.toBe(timedOut);
    await expect(
      policy.execute((context: Context) => {
        context.reportModelLoad(start);
        throw new Error('the deadline fired mid-wait');
      }),
    ).rejects.toThrow();
    expect(outcomes).toEqual(['ignore', 'ignore']);
    expect(policy.state().state).toBe('closed');
  });

  it('counts a failed load on the one waiter that carries it', async () => {
    const { policy, outcomes } = setup({ breaker: () => new ConsecutiveBreaker(2) });
    const failed = (counts: boolean) =>
      policy.execute((context: Context) => {
        context.reportModelLoad(start);
        context.reportModelLoad(end('failed', counts));
        throw new ResponseError({ status: 500, serverMessage: 'llama-server process has terminated' });
      });
    for (const counts of [false, true, false, false]) await expect(failed(counts)).rejects.toThrow();
    expect(outcomes).toEqual(['ignore', 'failure', 'ignore', 'ignore']);
    expect(policy.state().state).toBe('closed');
    // the counted waiter's error is classified as usual: a 400 from the load is not a failure
    await expect(
      policy.execute((context: Context) => {
        context.reportModelLoad(start);
        context.reportModelLoad(end('failed', true));
        throw new ResponseError({ status: 400, serverMessage: '"m" does not support generate' });
      }),
    ).rejects.toThrow();
    expect(outcomes.at(-1)).toBe('ignore');
  });

  it('judges slowness without the time spent waiting on the load, and counts failures after the load as usual', async () => {
    const { clock, policy, outcomes } = setup({ slowCallMs: 500 });
    await policy.execute((context: Context) => {
      context.reportModelLoad(start);
      clock.advance(3_000);
      context.reportModelLoad(end('loaded', false, 3_000));
      clock.advance(200);
      return 'answered 200 ms after the load';
    });
    expect(outcomes).toEqual(['success']);
    await expect(
      policy.execute((context: Context) => {
        context.reportModelLoad(start);
        context.reportModelLoad(end('loaded'));
        throw new TimeoutError({ phase: 'first-token', timeoutMs: 100, elapsedMs: 100 });
      }),
    ).rejects.toThrow();
    expect(outcomes).toEqual(['success', 'failure']);
    expect(policy.state().state).toBe('open');
  });

  it('ignores a load timeout even without a reported wait', async () => {
    const { policy, outcomes } = setup();
    await expect(
      policy.execute(() => {
        throw new TimeoutError({ phase: 'load', timeoutMs: 1, elapsedMs: 1 });
      }),
    ).rejects.toThrow();
    expect(outcomes).toEqual(['ignore']);
  });
});
