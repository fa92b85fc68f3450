import { spawnSync } from 'node:child_process';
import {
  type CallEvent,
  ConnectionError,
  type Context,
  definePolicy,
  InvalidOptionError,
  ManualClock,
  parseRetryAfter,
  ResponseError,
  StreamError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { ConstantBackoff, DelegateBackoff, IterableBackoff } from 'cockatiel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { retry } from './retry-policy.js';
import type { RetryBackoffContext, RetryEvent, RetryGiveUpEvent } from './types.js';

const busy = () => new ResponseError({ status: 503, serverMessage: 'server busy' });

/** An operation that fails with each of `errors` in turn, then returns `value`. */
function failing<T>(errors: unknown[], value?: T) {
  const contexts: Context[] = [];
  const operation = (context: Context): Promise<T> => {
    contexts.push(context);
    const error = errors[contexts.length - 1];
    return error === undefined ? Promise.resolve(value as T) : Promise.reject(error);
  };
  return { operation, contexts };
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('retry()', () => {
  it('retries retryable errors until one attempt succeeds; every attempt sees its number', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 4, backoff: new ConstantBackoff(100) });
    const retries: RetryEvent[] = [];
    policy.onRetry((event) => retries.push(event));
    let received: Context | undefined;
    const capture = definePolicy((context, next) => {
      received = context;
      return next(context);
    });
    const reset = new ConnectionError({ reason: 'reset', message: 'socket hang up' });
    const { operation, contexts } = failing([busy(), reset], 'answer');
    const result = settle(wrap(capture, policy).execute(operation, { clock }));
    await clock.advanceAsync(200);
    expect(await result).toEqual({ value: 'answer' });
    expect(contexts.map((context) => [context.attempt, context.maxAttempts])).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
    ]);
    expect(retries.map(({ attempt, delayMs }) => [attempt, delayMs])).toEqual([
      [0, 100],
      [1, 100],
    ]);
    expect(retries[1]?.error).toBe(reset);
    for (const event of retries) expect(event.context).toBe(received);
    expect(clock.pending).toBe(0);
  });

  it('stops after maxAttempts attempts in all, the first included', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 3, backoff: new ConstantBackoff(10) });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((event) => giveUps.push(event));
    const errors = [busy(), busy(), busy(), busy()];
    const { operation, contexts } = failing(errors);
    const result = settle(policy.execute(operation, { clock }));
    await clock.advanceAsync(1_000);
    const { error } = await result;
    expect(contexts).toHaveLength(3);
    expect(error).toBe(errors[2]);
    // the reason travels in the event, never on the error
    expect(error).not.toHaveProperty('notRetried');
    expect(giveUps).toEqual([{ attempt: 2, error, reason: 'max-attempts', context: expect.anything() }]);
    expect(clock.pending).toBe(0);
  });

  it('defaults to 3 attempts and retries only errors flagged retryable', async () => {
    const clock = new ManualClock();
    const policy = retry();
    expect(policy.maxAttempts).toBe(3);
    const reasons: string[] = [];
    policy.onGiveUp((event) => reasons.push(event.reason));
    const notFound = new ResponseError({ status: 404, serverMessage: 'model "x" not found' });
    const first = failing([notFound]);
    const result = settle(policy.execute(first.operation, { clock }));
    await clock.advanceAsync(0);
    expect((await result).error).toBe(notFound);
    expect(first.contexts).toHaveLength(1);
    expect(reasons).toEqual(['not-retryable']);
    expect(notFound).not.toHaveProperty('notRetried');

    const plain = new Error('not ours');
    const second = failing([plain]);
    const other = settle(policy.execute(second.operation, { clock }));
    await clock.advanceAsync(0);
    expect((await other).error).toBe(plain);
    expect(second.contexts).toHaveLength(1);

    const third = failing([busy(), busy(), busy()]);
    const defaults = settle(policy.execute(third.operation, { clock }));
    await clock.advanceAsync(30_000);
    expect((await defaults).error).toBeInstanceOf(ResponseError);
    expect(third.contexts).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it('lets retryOn override the classification, seeing the attempt context', async () => {
    const clock = new ManualClock();
    const seen: Array<[unknown, number]> = [];
    const policy = retry({
      maxAttempts: 3,
      backoff: new ConstantBackoff(0),
      retryOn: (error, context) => {
        seen.push([error, context.attempt]);
        return error instanceof TypeError;
      },
    });
    const typeError = new TypeError('fetch failed');
    const run = failing([typeError, busy()]);
    const events: CallEvent[] = [];
    const result = settle(
      policy.execute(run.operation, { clock, onCallEvent: (event) => events.push(event) }),
    );
    await clock.advanceAsync(0);
    const { error } = await result;
    expect(run.contexts).toHaveLength(2);
    expect(error).toBeInstanceOf(ResponseError);
    expect(events.at(-1)).toMatchObject({ type: 'give-up', attempt: 1, reason: 'not-retryable', error });
    expect(seen.map(([, attempt]) => attempt)).toEqual([0, 1]);
    expect(seen[0]?.[0]).toBe(typeError);
    expect((typeError as unknown as { notRetried?: string }).notRetried).toBeUndefined();
  });

  it('waits the default backoff: exponential with decorrelated jitter from 250 ms, capped at 10 s', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 9, budget: false });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    const run = failing(Array.from({ length: 9 }, busy));
    const result = settle(policy.execute(run.operation, { clock }));
    await clock.advanceAsync(60_000);
    await result;
    // cockatiel's decorrelatedJitterGenerator with random() = 0.5, initialDelay 250, maxDelay 10 000
    const expected = [224.35, 273.25, 508.94, 1011.49, 2020.91, 4040.92, 8081.38, 10_000];
    expect(delays).toHaveLength(8);
    for (const [index, delay] of delays.entries()) expect(delay).toBeCloseTo(expected[index] as number, 1);
  });

  it('keeps every jittered wait within its bounds', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 8, budget: false, initialDelayMs: 100, maxDelayMs: 3_000 });
    const delays: number[][] = Array.from({ length: 7 }, () => []);
    policy.onRetry(({ attempt, delayMs }) => delays[attempt]?.push(delayMs));
    for (let call = 0; call < 200; call++) {
      const run = failing(Array.from({ length: 8 }, busy));
      const result = settle(policy.execute(run.operation, { clock }));
      await clock.advanceAsync(30_000);
      await result;
    }
    for (const [attempt, forAttempt] of delays.entries()) {
      expect(forAttempt).toHaveLength(200);
      const bound = Math.min(3_000, (2 ** (attempt + 1) / 1.4) * 100);
      for (const delay of forAttempt) {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(bound);
      }
      // jitter: below the cap, the waits of one attempt differ from call to call
      if (attempt < 4) expect(new Set(forAttempt).size).toBeGreaterThan(190);
    }
    expect(Math.max(...(delays[6] ?? []))).toBe(3_000);
  });

  it('takes maxDelayMs alone below the default first wait, and keeps every wait under it', async () => {
    const clock = new ManualClock();
    const policy = retry({ maxAttempts: 5, budget: false, maxDelayMs: 200 });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    for (let call = 0; call < 20; call++) {
      const run = failing(Array.from({ length: 5 }, busy));
      const result = settle(policy.execute(run.operation, { clock }));
      await clock.advanceAsync(5_000);
      await result;
    }
    expect(delays).toHaveLength(80);
    expect(Math.max(...delays)).toBeLessThanOrEqual(200);
    expect(new Set(delays).size).toBeGreaterThan(10);
  });

  it('takes any cockatiel backoff, capped by maxDelayMs, and hands it the retry context', async () => {
    const clock = new ManualClock();
    const seen: RetryBackoffContext[] = [];
    const policy = retry({
      maxAttempts: 4,
      maxDelayMs: 500,
      backoff: new DelegateBackoff<RetryBackoffContext>((context) => {
        seen.push(context);
        return context.attempt * 400;
      }),
    });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    const errors = [busy(), busy(), busy(), busy()];
    const run = failing(errors);
    const result = settle(policy.execute(run.operation, { clock }));
    await clock.advanceAsync(10_000);
    await result;
    expect(delays).toEqual([400, 500, 500]);
    expect(seen.map((context) => context.attempt)).toEqual([1, 2, 3]);
    expect(seen[0]?.error).toBe(errors[0]);
    expect(seen[0]?.result.error).toBe(errors[0]);
    expect(seen[0]?.context).toBe(run.contexts[0]);

    const iterable = retry({ maxAttempts: 4, backoff: new IterableBackoff([5, 50]) });
    const iterableDelays: number[] = [];
    iterable.onRetry(({ delayMs }) => iterableDelays.push(delayMs));
    const again = settle(iterable.execute(failing([busy(), busy(), busy(), busy()]).operation, { clock }));
    await clock.advanceAsync(10_000);
    await again;
    expect(iterableDelays).toEqual([5, 50, 50]);
  });

  it('honours Retry-After in seconds and as an HTTP date, capped by maxDelayMs', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
    const policy = retry({ maxAttempts: 4, backoff: new ConstantBackoff(100), maxDelayMs: 5_000 });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    const seconds = parseRetryAfter('2', clock.now());
    const date = parseRetryAfter('Thu, 01 Jan 2026 12:00:03 GMT', clock.now());
    expect([seconds, date]).toEqual([2_000, 3_000]);
    const errors = [
      new ResponseError({ status: 429, retryAfterMs: seconds }),
      new ResponseError({ status: 503, retryAfterMs: date }),
      new ResponseError({ status: 503, retryAfterMs: parseRetryAfter('120', clock.now()) }),
    ];
    const started = clock.now();
    const attemptsAt: number[] = [];
    const run = failing(errors, 'ok');
    const result = settle(
      policy.execute(
        (context) => {
          attemptsAt.push(clock.now() - started);
          return run.operation(context);
        },
        { clock },
      ),
    );
    await clock.advanceAsync(60_000);
    expect(await result).toEqual({ value: 'ok' });
    expect(delays).toEqual([2_000, 3_000, 5_000]);
    expect(attemptsAt).toEqual([0, 2_000, 5_000, 10_000]);
  });

  it('fails at once with the last error when the wait would overrun the deadline', async () => {
    const clock = new ManualClock(0);
    const policy = retry({ maxAttempts: 5, backoff: new ConstantBackoff(1_000) });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((event) => giveUps.push(event));
    const withDeadline = definePolicy((context, next) => next(context.with({ deadline: 1_500 })));
    const cause = new Error('socket closed');
    const errors = [busy(), new ConnectionError({ reason: 'reset', message: 'reset', cause })];
    const run = failing([errors[0], errors[1], busy()]);
    const result = settle(wrap(withDeadline, policy).execute(run.operation, { clock }));
    await clock.advanceAsync(1_000);
    // the first wait (1 000 ms) fit before the deadline at 1 500; the second would not
    const { error } = await result;
    expect(clock.now()).toBe(1_000);
    expect(run.contexts).toHaveLength(2);
    expect(error).toBe(errors[1]);
    expect((error as Error).cause).toBe(cause);
    expect(error).not.toHaveProperty('notRetried');
    expect(giveUps[0]?.reason).toBe('deadline');
    expect(clock.pending).toBe(0);
  });

  it('settles at once when the caller cancels during a wait', async () => {
    const clock = new ManualClock();
    const policy = retry({ backoff: new ConstantBackoff(60_000) });
    const giveUps: RetryGiveUpEvent[] = [];
    policy.onGiveUp((event) => giveUps.push(event));
    const caller = new AbortController();
    const reason = new Error('stop');
    policy.onRetry(() => {
      setTimeout(() => caller.abort(reason), 5);
    });
    const run = failing([busy(), busy()]);
    const started = performance.now();
    const { error } = await settle(policy.execute(run.operation, { clock, signal: caller.signal }));
    const tookMs = performance.now() - started;
    expect(error).toBe(reason);
    expect(tookMs).toBeLessThan(100);
    expect(run.contexts).toHaveLength(1);
    expect(giveUps.map((event) => [event.reason, event.error])).toEqual([['cancelled', reason]]);
    expect(Object.hasOwn(reason, 'notRetried')).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it("never retries a caller's cancel, and rejects with the caller's reason untouched", async () => {
    const clock = new ManualClock();
    const policy = retry({ backoff: new ConstantBackoff(0), retryOn: () => true });
    const caller = new AbortController();
    const reason = { why: 'user navigated away' };
    Object.freeze(reason);
    let attempts = 0;
    const result = settle(
      policy.execute(
        ({ signal }) => {
          attempts++;
          caller.abort(reason);
          // a transport would reject with its own wrapper; retry answers with the caller's reason
          return Promise.reject(
            new ConnectionError({ reason: 'other', message: 'aborted', cause: signal.reason }),
          );
        },
        { clock, signal: caller.signal },
      ),
    );
    await clock.advanceAsync(0);
    expect((await result).error).toBe(reason);
    expect(attempts).toBe(1);
  });

  it('never replays a committed attempt, and passes the commit outward', async () => {
    const clock = new ManualClock();
    const policy = retry({ backoff: new ConstantBackoff(0) });
    const commits: number[] = [];
    const outer = definePolicy((context, next) => next(context.with({ onCommit: (at) => commits.push(at) })));
    let outerContext: Context | undefined;
    const capture = definePolicy((context, next) => {
      outerContext = context;
      return next(context);
    });
    // a reset after the first chunk reached the caller: retryable by itself, but committed
    const reset = new ConnectionError({ reason: 'reset', message: 'reset mid-stream' });
    expect(reset.retryable).toBe(true);
    let attempts = 0;
    const events: CallEvent[] = [];
    const result = settle(
      wrap(outer, capture, policy).execute(
        async (context) => {
          attempts++;
          context.commit();
          throw reset;
        },
        { clock, onCallEvent: (event) => events.push(event) },
      ),
    );
    await clock.advanceAsync(0);
    expect((await result).error).toBe(reset);
    expect(attempts).toBe(1);
    // the commit travels on the context: the error is left as it was made
    expect(events.map((event) => event.type)).toEqual(['attempt-start', 'commit', 'attempt-end', 'give-up']);
    expect(events[2]).toMatchObject({ outcome: 'failure', error: reset, committed: true });
    expect(events[3]).toMatchObject({ reason: 'committed', error: reset, attempt: 0 });
    expect(reset.committed).toBe(false);
    expect(reset).not.toHaveProperty('notRetried');
    expect(outerContext?.committed).toBe(true);
    expect(commits).toEqual([clock.now()]);

    // an error that says it was committed is not replayed either
    const midStream = new StreamError({ serverMessage: 'model crashed', committed: true });
    const run = failing([midStream]);
    const reasons: string[] = [];
    const second = settle(
      retry({ retryOn: () => true }).execute(run.operation, {
        clock,
        onCallEvent: (event) => event.type === 'give-up' && reasons.push(event.reason),
      }),
    );
    await clock.advanceAsync(0);
    expect((await second).error).toBe(midStream);
    expect(run.contexts).toHaveLength(1);
    expect(reasons).toEqual(['committed']);
  });

  it('does not cut short a stream-like operation that resolves late after committing', async () => {
    const clock = new ManualClock();
    let inner: Context | undefined;
    const result = settle(
      retry().execute(
        async (context) => {
          inner = context;
          context.commit();
          await new Promise<void>((resolve) => clock.setTimeout(resolve, 30_000));
          return 'whole stream';
        },
        { clock },
      ),
    );
    await clock.advanceAsync(30_000);
    expect(await result).toEqual({ value: 'whole stream' });
    expect(inner?.signal.aborted).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('leaves frozen foreign errors alone', async () => {
    const clock = new ManualClock();
    const frozen = Object.freeze(new Error('frozen'));
    const result = settle(retry({ retryOn: () => false }).execute(failing([frozen]).operation, { clock }));
    await clock.advanceAsync(0);
    expect((await result).error).toBe(frozen);
    const plain = new Error('plain');
    const second = settle(retry({ retryOn: () => false }).execute(failing([plain]).operation, { clock }));
    await clock.advanceAsync(0);
    expect((await second).error).toBe(plain);
    expect(plain).not.toHaveProperty('notRetried');
  });

  it('reports a deadline that fires during its retries as an outer deadline, at once, and leaves its error alone', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const policy = retry({ backoff: new ConstantBackoff(1_000) });
    const last = busy();
    const run = failing([last, busy()]);
    const events: CallEvent[] = [];
    const result = settle(
      policy.execute(run.operation, {
        clock,
        signal: controller.signal,
        onCallEvent: (event) => events.push(event),
      }),
    );
    await clock.advanceAsync(500);
    const deadline = new TimeoutError({ phase: 'total', timeoutMs: 500, elapsedMs: 500 });
    controller.abort(deadline);
    // reported from the abort itself, before the call's rejection can be seen
    expect(events.map((event) => event.type)).toEqual(['attempt-start', 'attempt-end', 'give-up']);
    expect(events[1]).toMatchObject({ outcome: 'failure', error: last });
    expect(events[2]).toMatchObject({ reason: 'outer-deadline', error: deadline, attempt: 0 });
    expect(deadline.cause).toBeUndefined();
    expect((await result).error).toBe(deadline);
    expect(events).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it("reports a caller's cancel during an attempt as the attempt's end and a give-up, once", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const reason = new Error('stop');
    const events: CallEvent[] = [];
    let release!: () => void;
    const result = settle(
      retry().execute(
        () =>
          new Promise((_, reject) => {
            release = () => reject(busy());
          }),
        { clock, signal: controller.signal, onCallEvent: (event) => events.push(event) },
      ),
    );
    await clock.advanceAsync(0);
    controller.abort(reason);
    expect(events.map((event) => event.type)).toEqual(['attempt-start', 'attempt-end', 'give-up']);
    expect(events[1]).toMatchObject({ attempt: 0, outcome: 'failure', error: reason, committed: false });
    expect(events[2]).toMatchObject({ attempt: 0, reason: 'cancelled', error: reason });
    release();
    expect((await result).error).toBe(reason);
    expect(events).toHaveLength(3);
  });

  it('rejects bad options with an InvalidOptionError naming the option', () => {
    const cases: Array<[unknown, string]> = [
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ maxAttempts: 2.5 }, 'maxAttempts'],
      [{ maxAttempts: Number.POSITIVE_INFINITY }, 'maxAttempts'],
      [{ maxAttempts: '3' }, 'maxAttempts'],
      [{ initialDelayMs: -1 }, 'initialDelayMs'],
      [{ initialDelayMs: Number.NaN }, 'initialDelayMs'],
      [{ maxDelayMs: Number.POSITIVE_INFINITY }, 'maxDelayMs'],
      [{ maxDelayMs: 100, initialDelayMs: 200 }, 'maxDelayMs'],
      [{ backoff: 100 }, 'backoff'],
      [{ backoff: new ConstantBackoff(1), initialDelayMs: 5 }, 'initialDelayMs'],
      [{ retryOn: true }, 'retryOn'],
      [{ budget: 'on' }, 'budget'],
      [{ budget: { ratio: 1.5 } }, 'budget.ratio'],
      [{ budget: { ratio: Number.NaN } }, 'budget.ratio'],
      [{ budget: { windowMs: -10 } }, 'budget.windowMs'],
      [{ budget: { minRetries: 0.5 } }, 'budget.minRetries'],
      [{ budget: { burst: 1 } }, 'budget.burst'],
      [{ budget: { store: { tryRetry() {} } } }, 'budget.store'],
      [{ key: 'user' }, 'key'],
      [{ key: 'model', budget: false }, 'key'],
      [{ maxKeys: 0 }, 'maxKeys'],
      [{ clock: Date }, 'clock'],
      [{ attempts: 3 }, 'attempts'],
      ['3', '(options)'],
    ];
    for (const [options, option] of cases) {
      let thrown: unknown;
      try {
        retry(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option, JSON.stringify(options)).toBe(option);
    }
  });
});

describe('retry() in a process', () => {
  it('keeps a script alive through a backoff wait on the real clock, and lets it go once cancelled', () => {
    const source = new URL('./index.ts', import.meta.url).pathname;
    const core = new URL('../../core/src/index.ts', import.meta.url).pathname;
    const script = `import { retry } from ${JSON.stringify(source)};
      import { ResponseError } from ${JSON.stringify(core)};
      let attempts = 0;
      const answer = await retry({ initialDelayMs: 200 }).execute(() => {
        if (++attempts === 1) throw new ResponseError({ status: 503 });
        return 'answered after ' + attempts + ' attempts';
      });
      console.log(answer);
      const controller = new AbortController();
      const waiting = retry({ backoff: { next: () => ({ duration: 60_000, next() { return this; } }) } })
        .execute(() => { throw new ResponseError({ status: 503 }); }, { signal: controller.signal })
        .catch((error) => console.log('cancelled:', error));
      setTimeout(() => controller.abort('stop'), 50);
      await waiting;`;
    const started = Date.now();
    const child = spawnSync(
      process.execPath,
      ['--conditions=bulwark-source', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout).toContain('answered after 2 attempts');
    expect(child.stdout).toContain('cancelled: stop');
    expect(child.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
