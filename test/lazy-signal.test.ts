import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { ManualClock, TimeoutError, wrap } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { describe, expect, it } from 'vitest';

/** Counts the AbortControllers made while `fn` runs. */
async function countControllers(fn: () => Promise<void>): Promise<number> {
  const Original = globalThis.AbortController;
  let made = 0;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      made++;
    }
  };
  try {
    await fn();
  } finally {
    globalThis.AbortController = Original;
  }
  return made;
}

const pipeline = (clock: ManualClock) =>
  wrap(
    timeout({ totalMs: 1_000, clock }),
    retry({ maxAttempts: 2, clock }),
    circuitBreaker(),
    bulkhead({ limit: 4 }),
    timeout({ attemptMs: 500, clock }),
  );

describe('the policies hand an AbortSignal inward only when the operation reads one', () => {
  it('a call whose operation never reads context.signal makes no AbortController', async () => {
    const policy = pipeline(new ManualClock());
    const made = await countControllers(async () => {
      for (let i = 0; i < 10; i++) expect(await policy.execute(async () => i)).toBe(i);
    });
    expect(made).toBe(0);
  });

  it('an operation that reads context.signal gets one that aborts with the deadline', async () => {
    const clock = new ManualClock();
    const policy = pipeline(clock);
    let signal: AbortSignal | undefined;
    const call = policy.execute(
      (context) =>
        new Promise<never>(() => {
          signal = context.signal;
        }),
    );
    call.catch(() => {});
    await clock.advance(500);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
    expect(signal?.reason).toMatchObject({ phase: 'attempt' });
    await clock.advance(500);
    await expect(call).rejects.toMatchObject({ phase: 'total' });
  });

  it("a caller's abort reaches the signal the operation read, with the caller's reason", async () => {
    const policy = pipeline(new ManualClock());
    const caller = new AbortController();
    let signal: AbortSignal | undefined;
    const call = policy.execute(
      (context) =>
        new Promise<never>(() => {
          signal = context.signal;
        }),
      { signal: caller.signal },
    );
    await Promise.resolve();
    await Promise.resolve();
    const reason = new Error('caller left');
    caller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(signal?.reason).toBe(reason);
  });
});
