import {
  BulwarkError,
  type CallEvent,
  ConnectionError,
  type Context,
  type GiveUpReason,
  ManualClock,
  ResponseError,
  StreamError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { timeout } from '@bulwark/timeout';
import { ConstantBackoff } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { retry } from './retry-policy.js';

/** Never settles and ignores its signal: a hung server behind a transport that does not listen. */
const hang = (): Promise<never> => new Promise(() => {});

function wait(clock: ManualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

async function settle<T>(
  clock: ManualClock,
  promise: Promise<T>,
): Promise<{ value?: T; error?: unknown; at: number }> {
  return promise.then(
    (value) => ({ value, at: clock.now() }),
    (error: unknown) => ({ error, at: clock.now() }),
  );
}

/** The give-up reasons a call reports through its lifecycle events. */
function giveUps() {
  const reasons: GiveUpReason[] = [];
  const onCallEvent = (event: CallEvent): void => {
    if (event.type === 'give-up') reasons.push(event.reason);
  };
  return { reasons, onCallEvent };
}

/** The chain of `cause`s below an error. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = (error as Error).cause; current !== undefined; current = (current as Error).cause) {
    chain.push(current);
  }
  return chain;
}

describe('timeout() with retry()', () => {
  it('inside retry: a limit per attempt, retried, each attempt with a fresh limit', async () => {
    const clock = new ManualClock(0);
    const policy = wrap(retry({ maxAttempts: 3, backoff: new ConstantBackoff(100) }), timeout(300));
    const attempts: Array<[number, number | undefined]> = [];
    const lifecycle = giveUps();
    const result = settle(
      clock,
      policy.execute(
        (context) => {
          attempts.push([clock.now(), context.deadline]);
          return hang();
        },
        { clock, onCallEvent: lifecycle.onCallEvent },
      ),
    );
    await clock.advanceAsync(5_000);
    const { error, at } = await result;
    expect(attempts).toEqual([
      [0, 300],
      [400, 700],
      [800, 1_100],
    ]);
    expect(at).toBe(1_100);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      phase: 'attempt',
      attempt: 2,
      retryable: true,
    });
    expect(lifecycle.reasons).toEqual(['max-attempts']);
    expect(error).not.toHaveProperty('notRetried');
    expect((error as Error).message).toBe(
      'Timed out for the attempt to finish after 300 ms (attempt 3 of 3)',
    );
    expect(clock.pending).toBe(0);
  });

  it('outside retry: one deadline over every attempt and wait, with the last attempt error as its cause', async () => {
    const clock = new ManualClock(0);
    const policy = wrap(timeout(1_000), retry({ maxAttempts: 10, backoff: new ConstantBackoff(300) }));
    const last = new ResponseError({ status: 503 });
    let attempts = 0;
    const lifecycle = giveUps();
    const result = settle(
      clock,
      policy.execute(
        async () => {
          attempts++;
          await wait(clock, 100);
          throw attempts === 3 ? last : new ResponseError({ status: 503 });
        },
        { clock, onCallEvent: lifecycle.onCallEvent },
      ),
    );
    await clock.advanceAsync(5_000);
    const { error, at } = await result;
    // attempts at 0, 400, 800; the third fails at 900 and its 300 ms wait would overrun the deadline
    expect(attempts).toBe(3);
    expect(at).toBe(900);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'total', timeoutMs: 1_000, retryable: false });
    expect((error as Error).cause).toBe(last);
    expect(lifecycle.reasons).toEqual(['deadline']);
    expect(last).not.toHaveProperty('notRetried');
    expect(clock.pending).toBe(0);
  });

  it('a total deadline that fires while a later attempt hangs settles at once and keeps the chain', async () => {
    const clock = new ManualClock(0);
    // the wait fits before the deadline; the attempt after it hangs past the deadline
    const policy = wrap(timeout({ totalMs: 1_000 }), retry({ backoff: new ConstantBackoff(500) }));
    const first = new ConnectionError({ reason: 'reset', message: 'reset' });
    const result = settle(
      clock,
      policy.execute(
        async (context) => {
          if (context.attempt === 0) {
            await wait(clock, 400);
            throw first;
          }
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(5_000);
    const { error, at } = await result;
    expect(at).toBe(1_000);
    expect(error).toMatchObject({ phase: 'total', timeoutMs: 1_000, elapsedMs: 1_000 });
    expect((error as Error).cause).toBe(first);
    expect(clock.pending).toBe(0);
  });

  it('a hung server under wrap(total 2 s, retry 5, attempt 300 ms) fails at 2 s naming the total budget', async () => {
    const clock = new ManualClock(0);
    const policy = wrap(
      timeout({ totalMs: 2_000 }),
      retry({ maxAttempts: 5, backoff: new ConstantBackoff(200) }),
      timeout({ attemptMs: 300 }),
    );
    const signals: AbortSignal[] = [];
    const result = settle(
      clock,
      policy.execute(
        ({ signal }) => {
          signals.push(signal);
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(10_000);
    const { error, at } = await result;
    // attempts at 0, 500, 1 000, 1 500; the fourth times out at 1 800 and its wait would overrun 2 000
    expect(signals).toHaveLength(4);
    expect(at).toBeLessThanOrEqual(2_000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('total');
    expect((error as TimeoutError).timeoutMs).toBe(2_000);
    const [cause] = causes(error);
    expect(cause).toBeInstanceOf(TimeoutError);
    expect(cause).toMatchObject({ phase: 'attempt', timeoutMs: 300, attempt: 3 });
    // every attempt's signal aborted with its own attempt timeout
    for (const signal of signals) expect((signal.reason as TimeoutError).phase).toBe('attempt');
    expect(clock.pending).toBe(0);
  });

  it('a total deadline that fires mid-attempt aborts that attempt with the total error', async () => {
    const clock = new ManualClock(0);
    const policy = wrap(
      timeout({ totalMs: 1_000 }),
      retry({ maxAttempts: 5, backoff: new ConstantBackoff(100) }),
      timeout({ attemptMs: 600 }),
    );
    const signals: AbortSignal[] = [];
    const result = settle(
      clock,
      policy.execute(
        ({ signal }) => {
          signals.push(signal);
          return hang();
        },
        { clock },
      ),
    );
    await clock.advanceAsync(10_000);
    const { error, at } = await result;
    expect(at).toBe(1_000);
    expect(error).toMatchObject({ phase: 'total', timeoutMs: 1_000 });
    expect(signals).toHaveLength(2);
    expect(signals[1]?.reason).toBe(error);
    expect((error as Error).cause).toBe(signals[0]?.reason);
    expect(causes(error)).toEqual([signals[0]?.reason]);
    expect(clock.pending).toBe(0);
  });

  it("a caller's cancel passes through both policies untouched and is not retried", async () => {
    const clock = new ManualClock(0);
    const policy = wrap(timeout(5_000), retry({ retryOn: () => true }), timeout(1_000));
    const caller = new AbortController();
    const reason = new Error('user cancelled');
    let attempts = 0;
    const result = settle(
      clock,
      policy.execute(
        () => {
          attempts++;
          return hang();
        },
        { clock, signal: caller.signal },
      ),
    );
    await clock.advanceAsync(200);
    caller.abort(reason);
    const { error } = await result;
    expect(error).toBe(reason);
    expect(attempts).toBe(1);
    expect(reason.cause).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('a stream-like attempt that committed is neither replayed nor cut short', async () => {
    const clock = new ManualClock(0);
    const policy = wrap(timeout({ totalMs: 10_000 }), retry(), timeout({ attemptMs: 8_000, idleMs: 1_000 }));
    let inner: Context | undefined;
    const result = settle(
      clock,
      policy.execute(
        async (context) => {
          inner = context;
          await wait(clock, 500);
          context.commit();
          await wait(clock, 6_000);
          return 'all chunks';
        },
        { clock },
      ),
    );
    await clock.advanceAsync(20_000);
    expect(await result).toEqual({ value: 'all chunks', at: 6_500 });
    expect(inner?.budgets).toEqual({ idleMs: 1_000 });
    expect(inner?.signal.aborted).toBe(false);
    expect(clock.pending).toBe(0);
  });
});

describe('Ollama failure shapes, with fake operations', () => {
  const policy = () =>
    wrap(timeout({ totalMs: 30_000 }), retry({ maxAttempts: 4 }), timeout({ attemptMs: 5_000 }));

  it('503 busy is retried and succeeds once the queue drains', async () => {
    const clock = new ManualClock(0);
    let queue = 2;
    const statuses: string[] = [];
    const result = settle(
      clock,
      policy().execute(
        async () => {
          if (queue-- > 0) {
            statuses.push('503');
            throw new ResponseError({ status: 503, serverMessage: 'server busy, please try again' });
          }
          statuses.push('200');
          return { message: { role: 'assistant', content: 'hi' } };
        },
        { clock },
      ),
    );
    await clock.advanceAsync(30_000);
    expect((await result).value).toEqual({ message: { role: 'assistant', content: 'hi' } });
    expect(statuses).toEqual(['503', '503', '200']);
    expect(clock.pending).toBe(0);
  });

  it('404 unknown model is not retried', async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    const notFound = new ResponseError({
      status: 404,
      serverMessage: 'model "nope" not found',
      model: 'nope',
    });
    const lifecycle = giveUps();
    const result = settle(
      clock,
      policy().execute(
        () => {
          attempts++;
          throw notFound;
        },
        { clock, onCallEvent: lifecycle.onCallEvent },
      ),
    );
    await clock.advanceAsync(30_000);
    const { error, at } = await result;
    expect(error).toBe(notFound);
    expect(at).toBe(0);
    expect(attempts).toBe(1);
    expect(lifecycle.reasons).toEqual(['not-retryable']);
    expect(notFound).not.toHaveProperty('notRetried');
  });

  it('a connection reset before output is retried', async () => {
    const clock = new ManualClock(0);
    let attempts = 0;
    const result = settle(
      clock,
      policy().execute(
        () => {
          attempts++;
          if (attempts === 1) throw new ConnectionError({ reason: 'reset', message: 'other side closed' });
          return 'ok';
        },
        { clock },
      ),
    );
    await clock.advanceAsync(30_000);
    expect((await result).value).toBe('ok');
    expect(attempts).toBe(2);
  });

  it('an error line mid-stream, after output reached the caller, is not retried', async () => {
    const clock = new ManualClock(0);
    const lifecycle = giveUps();
    let attempts = 0;
    const result = settle(
      clock,
      policy().execute(
        async (context) => {
          attempts++;
          context.commit();
          await wait(clock, 100);
          throw new StreamError({ serverMessage: 'model runner crashed', committed: context.committed });
        },
        { clock, onCallEvent: lifecycle.onCallEvent },
      ),
    );
    await clock.advanceAsync(30_000);
    const { error } = await result;
    expect(attempts).toBe(1);
    expect(BulwarkError.is(error)).toBe(true);
    expect(error).toMatchObject({ committed: true, retryable: false });
    expect(lifecycle.reasons).toEqual(['committed']);
    expect(clock.pending).toBe(0);
  });
});
