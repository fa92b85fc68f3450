import { spawnSync } from 'node:child_process';
import {
  type Context,
  definePolicy,
  flushMicrotasks,
  InvalidOptionError,
  ManualClock,
  ResponseError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { describe, expect, it } from 'vitest';
import { timeout } from './timeout-policy.js';
import type { TimeoutEvent } from './types.js';

/** An operation that never settles and ignores its signal. */
const hang = (): Promise<never> => new Promise(() => {});

/** Waits `ms` on `clock`, ignoring any signal. */
const wait = (clock: ManualClock, ms: number): Promise<void> =>
  new Promise((resolve) => clock.setTimeout(resolve, ms));

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe('timeout()', () => {
  it('rejects at expiry with a TimeoutError even when the operation ignores its signal', async () => {
    const clock = new ManualClock();
    const policy = timeout(1_000);
    let seen: Context | undefined;
    const result = settle(
      policy.execute(
        (context) => {
          seen = context;
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(999);
    expect(seen?.signal.aborted).toBe(false);
    await clock.advanceAsync(1);
    const { error } = await result;
    expect(error).toBeInstanceOf(TimeoutError);
    const timeoutError = error as TimeoutError;
    expect(timeoutError.phase).toBe('total');
    expect(timeoutError.timeoutMs).toBe(1_000);
    expect(timeoutError.elapsedMs).toBe(1_000);
    expect(timeoutError.retryable).toBe(false);
    expect(timeoutError.message).toBe('Timed out for the call to finish after 1000 ms');
    // the inner signal carries the same error as its reason
    expect(seen?.signal.aborted).toBe(true);
    expect(seen?.signal.reason).toBe(timeoutError);
    expect(clock.pending).toBe(0);
  });

  it('sets the deadline and the phase budgets the operation sees', async () => {
    const clock = new ManualClock(10_000);
    const policy = timeout({ totalMs: 2_000, connectMs: 100, firstTokenMs: 500 });
    let seen: Context | undefined;
    await policy.execute(
      (context) => {
        seen = context;
        return 'ok';
      },
      { clock },
    );
    expect(seen?.deadline).toBe(12_000);
    expect(seen?.remainingMs()).toBe(2_000);
    expect(seen?.budgets).toEqual({ connectMs: 100, firstTokenMs: 500 });
    expect(clock.pending).toBe(0);
  });

  it('resolves with the value and clears its timer and link', async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    let inner: AbortSignal | undefined;
    const pending = timeout(1_000).execute(
      async ({ signal }) => {
        inner = signal;
        await wait(clock, 10);
        return 42;
      },
      { clock, signal: caller.signal },
    );
    await clock.advanceAsync(10);
    const value = await pending;
    expect(value).toBe(42);
    expect(clock.pending).toBe(0);
    // the link is gone: a later cancel no longer reaches the finished call's signal
    caller.abort(new Error('late'));
    expect(inner?.aborted).toBe(false);
  });

  it('lets a stream-like operation that resolves late after committing run to its end', async () => {
    const clock = new ManualClock();
    const chunks: number[] = [];
    let inner: AbortSignal | undefined;
    const pending = timeout(5_000).execute(
      async (context) => {
        inner = context.signal;
        for (let chunk = 0; chunk < 4; chunk++) {
          await wait(clock, 1_000);
          if (chunk === 0) context.commit();
          chunks.push(chunk);
        }
        return 'done';
      },
      { clock },
    );
    const resolved = settle(pending);
    await clock.advanceAsync(1_000);
    await clock.advanceAsync(3_000);
    expect(await resolved).toEqual({ value: 'done' });
    expect(chunks).toEqual([0, 1, 2, 3]);
    // unlike cockatiel's abortOnReturn, returning does not abort the signal
    expect(inner?.aborted).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("passes the caller's cancel through with the caller's own reason", async () => {
    const clock = new ManualClock();
    const caller = new AbortController();
    const reason = new Error('user pressed stop');
    const policy = timeout(1_000);
    const timeouts: TimeoutEvent[] = [];
    policy.onTimeout((event) => timeouts.push(event));
    let inner: AbortSignal | undefined;
    const result = settle(
      policy.execute(
        ({ signal }) => {
          inner = signal;
          return hang();
        },
        { clock, signal: caller.signal },
      ),
    );
    await clock.advanceAsync(100);
    caller.abort(reason);
    const { error } = await result;
    expect(error).toBe(reason);
    expect(inner?.reason).toBe(reason);
    expect(timeouts).toHaveLength(0);
    expect(clock.pending).toBe(0);
    await clock.advanceAsync(5_000);
    expect(timeouts).toHaveLength(0);
  });

  it('rejects at once, without running the operation, when the caller already cancelled', async () => {
    const caller = new AbortController();
    const reason = new Error('gone');
    caller.abort(reason);
    let ran = false;
    const clock = new ManualClock();
    const policy = wrap(
      definePolicy((context, next) => next(context)),
      timeout(1_000),
    );
    await expect(
      policy.run(
        // a context whose signal is already aborted, as an outer policy would hand it
        (await captureContext(clock)).with({ signal: caller.signal }),
        () => {
          ran = true;
          return Promise.resolve(1);
        },
      ),
    ).rejects.toBe(reason);
    expect(ran).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('lets an inner TimeoutError for another budget pass through untouched', async () => {
    const clock = new ManualClock();
    const headers = new TimeoutError({ phase: 'headers', timeoutMs: 50, elapsedMs: 50 });
    const result = settle(
      timeout({ totalMs: 1_000, headersMs: 50 }).execute(
        async () => {
          await wait(clock, 50);
          throw headers;
        },
        { clock },
      ),
    );
    await clock.advanceAsync(50);
    const { error } = await result;
    expect(error).toBe(headers);
    expect(headers.phase).toBe('headers');
    expect(headers.cause).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('turns a synchronous throw into a rejection and still clears its timer', async () => {
    const clock = new ManualClock();
    const boom = new Error('boom');
    await expect(
      timeout(1_000).execute(
        () => {
          throw boom;
        },
        { clock },
      ),
    ).rejects.toBe(boom);
    expect(clock.pending).toBe(0);
  });

  it('with only phase budgets passes them inward and arms no timer', async () => {
    const clock = new ManualClock();
    let seen: Context | undefined;
    const pending = timeout({ headersMs: 300, idleMs: 1_000 }).execute(
      async (context) => {
        seen = context;
        expect(clock.pending).toBe(0);
        return 'ok';
      },
      { clock },
    );
    expect(await pending).toBe('ok');
    expect(seen?.budgets).toEqual({ headersMs: 300, idleMs: 1_000 });
    expect(seen?.deadline).toBeUndefined();
    expect(seen?.signal.aborted).toBe(false);
  });

  it('emits onTimeout with the phase, sizes, attempt and context, and stops after dispose', async () => {
    const clock = new ManualClock();
    const policy = timeout({ attemptMs: 200 });
    const events: TimeoutEvent[] = [];
    const subscription = policy.onTimeout((event) => events.push(event));
    const outer = definePolicy((context, next) => next(context.with({ attempt: 1, maxAttempts: 3 })));
    let received: Context | undefined;
    const capture = definePolicy((context, next) => {
      received = context;
      return next(context);
    });
    const result = settle(wrap(outer, capture, policy).execute(hang, { clock }));
    await clock.advanceAsync(200);
    const { error } = await result;
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({ phase: 'attempt', timeoutMs: 200, elapsedMs: 200, attempt: 1 });
    expect(event?.error).toBe(error);
    expect(event?.context).toBe(received);
    expect((error as TimeoutError).message).toBe(
      'Timed out for the attempt to finish after 200 ms (attempt 2 of 3)',
    );
    expect((error as TimeoutError).retryable).toBe(true);
    subscription.dispose();
    const again = settle(wrap(outer, policy).execute(hang, { clock }));
    await clock.advanceAsync(200);
    expect((await again).error).toBeInstanceOf(TimeoutError);
    expect(events).toHaveLength(1);
  });

  it('names the phase by placement for timeout(ms): total outside a retry, attempt inside', async () => {
    const clock = new ManualClock();
    const asRetry = definePolicy((context, next) => next(context.with({ attempt: 0, maxAttempts: 2 })));
    const inside = settle(wrap(asRetry, timeout(100)).execute(hang, { clock }));
    const outside = settle(wrap(timeout(100), asRetry).execute(hang, { clock }));
    await clock.advanceAsync(100);
    expect(((await inside).error as TimeoutError).phase).toBe('attempt');
    expect(((await outside).error as TimeoutError).phase).toBe('total');
    // explicit names win over placement
    const explicit = settle(wrap(asRetry, timeout({ totalMs: 100 })).execute(hang, { clock }));
    await clock.advanceAsync(100);
    expect(((await explicit).error as TimeoutError).phase).toBe('total');
    expect(clock.pending).toBe(0);
  });

  it('nests deadlines: an inner budget never outlives the outer one', async () => {
    const clock = new ManualClock(0);
    let seen: Context | undefined;
    const policy = wrap(timeout({ totalMs: 1_000 }), timeout({ totalMs: 5_000, idleMs: 50 }));
    const result = settle(
      policy.execute(
        (context) => {
          seen = context;
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(0);
    expect(seen?.deadline).toBe(1_000);
    expect(seen?.budgets).toEqual({ idleMs: 50 });
    await clock.advanceAsync(1_000);
    const { error } = await result;
    expect((error as TimeoutError).timeoutMs).toBe(1_000);
    expect(seen?.signal.reason).toBe(error);
    // the inner timer was cleared with the outer expiry
    expect(clock.pending).toBe(0);

    const shorterInside = settle(wrap(timeout(5_000), timeout({ attemptMs: 300 })).execute(hang, { clock }));
    await clock.advanceAsync(300);
    expect(((await shorterInside).error as TimeoutError).timeoutMs).toBe(300);
    expect(clock.pending).toBe(0);
  });

  it('names its own budget when a retry beneath gave up because its deadline was too close', async () => {
    const clock = new ManualClock(0);
    const last = new ResponseError({ status: 503 });
    const policy = timeout({ totalMs: 1_000 });
    const events: TimeoutEvent[] = [];
    policy.onTimeout((event) => events.push(event));
    const deadlines: Array<number | undefined> = [];
    const giveUpEarly = definePolicy(async (context) => {
      deadlines.push(context.deadline);
      await wait(clock, 400);
      // what retry() reports when its next wait would overrun context.deadline
      context.reportCallEvent({
        type: 'give-up',
        attempt: 0,
        reason: 'deadline',
        error: last,
        at: clock.now(),
      });
      throw last;
    });
    const result = settle(wrap(policy, giveUpEarly).execute(hang, { clock }));
    await clock.advanceAsync(400);
    const { error } = await result;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('total');
    expect((error as TimeoutError).elapsedMs).toBe(400);
    expect((error as TimeoutError).cause).toBe(last);
    expect(deadlines).toEqual([1_000]);
    expect(events).toHaveLength(1);
    expect(clock.pending).toBe(0);

    // ...but not when an earlier deadline further out was the one in force
    const outer = timeout({ totalMs: 500 });
    const throughBoth = settle(
      wrap(outer, timeout({ totalMs: 1_000 }), giveUpEarly).execute(hang, { clock }),
    );
    await clock.advanceAsync(400);
    const converted = (await throughBoth).error as TimeoutError;
    expect(deadlines[1]).toBe(900);
    expect(converted.timeoutMs).toBe(500);
    expect(converted.cause).toBe(last);
    expect(clock.pending).toBe(0);
  });

  it('takes Infinity as "no limit" for every budget: no timer, no deadline', async () => {
    const clock = new ManualClock(0);
    let seen: Context | undefined;
    const policy = timeout({
      totalMs: Number.POSITIVE_INFINITY,
      connectMs: Number.POSITIVE_INFINITY,
      headersMs: Number.POSITIVE_INFINITY,
      firstTokenMs: Number.POSITIVE_INFINITY,
      idleMs: Number.POSITIVE_INFINITY,
    });
    expect(policy.limitMs).toBeUndefined();
    const pending = settle(
      policy.execute(
        async (context) => {
          seen = context;
          await wait(clock, 40 * 24 * 3_600_000);
          return 'done';
        },
        { clock },
      ),
    );
    await flushMicrotasks();
    clock.advance(40 * 24 * 3_600_000);
    expect(await pending).toEqual({ value: 'done' });
    expect(seen?.deadline).toBeUndefined();
    expect(seen?.budgets).toMatchObject({
      connectMs: Number.POSITIVE_INFINITY,
      idleMs: Number.POSITIVE_INFINITY,
    });
    expect(timeout(Number.POSITIVE_INFINITY).limitMs).toBeUndefined();
    expect(timeout({ attemptMs: Number.POSITIVE_INFINITY }).limitMs).toBeUndefined();
  });

  it('refuses a budget a timer cannot hold, naming it and the limit', () => {
    for (const key of ['totalMs', 'attemptMs', 'connectMs', 'headersMs', 'firstTokenMs', 'idleMs']) {
      expect(() => timeout({ [key]: 2_147_483_648 })).toThrowError(
        new RegExp(
          `option "${key}" must be a number of milliseconds from 1 to 2147483647, or Infinity for no limit, got 2147483648`,
        ),
      );
    }
    expect(timeout({ totalMs: 2_147_483_647 }).limitMs).toBe(2_147_483_647);
  });

  it("lets a caller's totalMs or attemptMs win over the policy's limit", async () => {
    const clock = new ManualClock(0);
    const longer = settle(timeout({ totalMs: 1_000 }).execute(hang, { clock, timeout: { totalMs: 5_000 } }));
    clock.advance(1_000);
    await flushMicrotasks();
    const shorter = settle(timeout({ totalMs: 1_000 }).execute(hang, { clock, timeout: { totalMs: 200 } }));
    const unlimited = settle(
      timeout({ totalMs: 1_000 }).execute(() => wait(clock, 10_000).then(() => 'ok'), {
        clock,
        timeout: { totalMs: Number.POSITIVE_INFINITY },
      }),
    );
    clock.advance(200);
    await flushMicrotasks();
    expect(((await shorter).error as TimeoutError).timeoutMs).toBe(200);
    clock.advance(3_800);
    await flushMicrotasks();
    const error = (await longer).error as TimeoutError;
    expect(error.timeoutMs).toBe(5_000);
    expect(error.elapsedMs).toBe(5_000);
    clock.advance(6_000);
    expect(await unlimited).toEqual({ value: 'ok' });
  });

  it('rejects bad options with an InvalidOptionError naming the option', () => {
    const cases: Array<[unknown, string]> = [
      [-1, 'ms'],
      [Number.NaN, 'ms'],
      [2_147_483_648, 'ms'],
      [0, 'ms'],
      [{ attemptMs: -5 }, 'attemptMs'],
      [{ totalMs: Number.NaN }, 'totalMs'],
      [{ connectMs: 2 ** 31 }, 'connectMs'],
      [{ headersMs: '300' }, 'headersMs'],
      [{ firstTokenMs: null }, 'firstTokenMs'],
      [{ idleMs: -1 }, 'idleMs'],
      [{ clock: {} }, 'clock'],
      [{ totalMs: 100, deadlineMs: 5 }, 'deadlineMs'],
      [{ attemptMs: 100, totalMs: 200 }, 'totalMs'],
      [{}, '(options)'],
      ['1s', '(options)'],
      [undefined, '(options)'],
    ];
    for (const [options, option] of cases) {
      let thrown: unknown;
      try {
        timeout(options as number);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option, JSON.stringify(options)).toBe(option);
    }
    expect(() => timeout({ attemptMs: 1, clock: new ManualClock() })).not.toThrow();
  });

  it('times with its own clock when given one', async () => {
    const own = new ManualClock(0);
    const callClock = new ManualClock(0);
    const result = settle(timeout({ totalMs: 100, clock: own }).execute(hang, { clock: callClock }));
    await callClock.advanceAsync(1_000);
    expect(own.pending).toBe(1);
    await own.advanceAsync(100);
    expect(((await result).error as TimeoutError).timeoutMs).toBe(100);
    expect(own.pending).toBe(0);
  });
});

describe('timeout() in a process', () => {
  it('does not keep the process alive while its timer is pending', () => {
    const source = new URL('./index.ts', import.meta.url).pathname;
    const script = `import { timeout } from ${JSON.stringify(source)};
      timeout(60_000).execute(() => new Promise(() => {})).catch(() => console.log('fired'));
      console.log('scheduled');`;
    const started = Date.now();
    const child = spawnSync(
      process.execPath,
      ['--conditions=bulwark-source', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout).toContain('scheduled');
    expect(child.stdout).not.toContain('fired');
    expect(child.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

async function captureContext(clock: ManualClock): Promise<Context> {
  let captured: Context | undefined;
  await definePolicy((context, next) => {
    captured = context;
    return next(context);
  }).execute(() => undefined, { clock });
  await flushMicrotasks();
  return captured as Context;
}
