import {
  BulkheadRejectedError,
  CircuitOpenError,
  ConnectionError,
  ErrorCode,
  InvalidOptionError,
  ManualClock,
  ResponseError,
  StreamError,
  TimeoutError,
} from '@bulwark/core';
import { ConsecutiveBreaker } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from './circuit-breaker-policy.js';
import { SamplingWindowBreaker, samplingBreaker } from './sampling-breaker.js';
import type { BreakerAdmission, BreakerStore, StateChangeEvent } from './types.js';

const fail = (error: unknown) => () => Promise.reject(error);
const boom = () => new ConnectionError({ reason: 'reset', message: 'reset' });

function setup(options: Parameters<typeof circuitBreaker>[0] = {}) {
  const clock = new ManualClock(0);
  const policy = circuitBreaker({ clock, halfOpenAfterMs: 1_000, ...options });
  const changes: string[] = [];
  policy.onStateChange((event: StateChangeEvent) => changes.push(`${event.key}:${event.from}->${event.to}`));
  return { clock, policy, changes };
}

describe('circuitBreaker()', () => {
  it('opens after consecutive failures, fails fast, probes after halfOpenAfterMs and closes', async () => {
    const { clock, policy, changes } = setup({ breaker: () => new ConsecutiveBreaker(3) });
    const refusals: unknown[] = [];
    policy.onRejected((event) => refusals.push(event.error));
    for (let i = 0; i < 3; i++) await expect(policy.execute(fail(boom()))).rejects.toThrow(ConnectionError);
    expect(policy.state()).toEqual({ state: 'open', retryAt: 1_000, probes: 0 });
    let ran = false;
    const rejected = (await policy
      .execute(() => {
        ran = true;
      })
      .catch((error: unknown) => error)) as CircuitOpenError;
    expect(ran).toBe(false);
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect(rejected.message).toBe('Circuit breaker "default" is open; next probe in 1000 ms');
    expect(rejected.retryAt).toBe(1_000);
    // the event carries the very error the call rejects with; the former names are aliases
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toBe(rejected);
    expect(policy.onReject).toBe(policy.onRejected);
    expect(policy.getState()).toEqual(policy.state());
    expect(policy.kind).toBe('circuit-breaker');
    clock.advance(1_000);
    await expect(policy.execute(() => 'probe ok')).resolves.toBe('probe ok');
    expect(changes).toEqual(['default:closed->open', 'default:open->half-open', 'default:half-open->closed']);
  });

  it('carries the failure that opened it as the cause of its refusals', async () => {
    const { clock, policy } = setup({ breaker: () => new ConsecutiveBreaker(2) });
    const first = new TimeoutError({ phase: 'first-token', timeoutMs: 50, elapsedMs: 51 });
    const second = new TimeoutError({ phase: 'idle', timeoutMs: 20, elapsedMs: 21 });
    await policy.execute(fail(first)).catch(() => {});
    await policy.execute(fail(second)).catch(() => {});
    const refused = (await policy
      .execute(() => 'never')
      .catch((error: unknown) => error)) as CircuitOpenError;
    expect(CircuitOpenError.is(refused)).toBe(true);
    expect(refused.cause).toBe(second);
    clock.advance(1_000);
    const third = boom();
    await policy.execute(fail(third)).catch(() => {});
    const again = (await policy.execute(() => 'never').catch((error: unknown) => error)) as CircuitOpenError;
    expect(again.cause).toBe(third);
    clock.advance(1_000);
    await policy.execute(() => 'probe ok');
    expect(policy.state().state).toBe('closed');
  });

  it('re-opens when the probe fails, moving the next probe time', async () => {
    const { clock, policy } = setup({ breaker: () => new ConsecutiveBreaker(1) });
    await policy.execute(fail(boom())).catch(() => {});
    clock.advance(1_000);
    await policy.execute(fail(boom())).catch(() => {});
    expect(policy.state()).toEqual({ state: 'open', retryAt: 2_000, probes: 0 });
  });

  it('lets only halfOpenProbes through and rejects everyone else at once while they run', async () => {
    const { clock, policy } = setup({ breaker: () => new ConsecutiveBreaker(1), halfOpenProbes: 2 });
    await policy.execute(fail(boom())).catch(() => {});
    clock.advance(1_000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const probes = [policy.execute(() => gate), policy.execute(() => gate)];
    const other = (await policy.execute(() => 'x').catch((error: unknown) => error)) as CircuitOpenError;
    expect(other).toBeInstanceOf(CircuitOpenError);
    expect(other.state).toBe('half-open');
    expect(policy.state().probes).toBe(2);
    release();
    await Promise.all(probes);
    expect(policy.state().state).toBe('closed');
  });

  it('keeps one breaker per key: a failing model does not stop another', async () => {
    const { policy } = setup({ key: 'model', breaker: () => new ConsecutiveBreaker(2) });
    const sick = { attributes: { model: 'sick' } };
    const well = { attributes: { model: 'well' } };
    for (let i = 0; i < 2; i++) await policy.execute(fail(boom()), sick).catch(() => {});
    await expect(policy.execute(() => 'x', sick)).rejects.toThrow(/Circuit breaker "sick" is open/);
    await expect(policy.execute(() => 'fine', well)).resolves.toBe('fine');
    expect([...policy.states()].map(([key, status]) => [key, status.state])).toEqual([
      ['sick', 'open'],
      ['well', 'closed'],
    ]);
  });

  it.each([
    ['404', new ResponseError({ status: 404 }), 'closed'],
    ['400', new ResponseError({ status: 400 }), 'closed'],
    ['503 overload', new ResponseError({ status: 503 }), 'closed'],
    ['429 overload', new ResponseError({ status: 429 }), 'closed'],
    ['a rejection by a bulkhead', new BulkheadRejectedError({ key: 'k', limit: 1, queue: 0 }), 'closed'],
    ['a queue timeout', new TimeoutError({ phase: 'queue', timeoutMs: 1, elapsedMs: 1 }), 'closed'],
    ['500', new ResponseError({ status: 500 }), 'open'],
    ['502', new ResponseError({ status: 502 }), 'open'],
    ['504', new ResponseError({ status: 504 }), 'open'],
    ['a first-token timeout', new TimeoutError({ phase: 'first-token', timeoutMs: 1, elapsedMs: 1 }), 'open'],
    ['a reset', boom(), 'open'],
    ['a mid-stream error', new StreamError({ serverMessage: 'x', committed: true }), 'open'],
    ['a foreign error', new Error('bug'), 'open'],
  ])('classifies %s', async (_, error, expected) => {
    const { policy } = setup({ breaker: () => new ConsecutiveBreaker(1) });
    await policy.execute(fail(error)).catch(() => {});
    expect(policy.state().state).toBe(expected);
  });

  it('counts overload when asked to', async () => {
    const { policy } = setup({ breaker: () => new ConsecutiveBreaker(1), countOverload: true });
    await policy.execute(fail(new ResponseError({ status: 503 }))).catch(() => {});
    expect(policy.state().state).toBe('open');
  });

  it("never counts a caller's cancel", async () => {
    const { policy } = setup({ breaker: () => new ConsecutiveBreaker(1) });
    const controller = new AbortController();
    const reason = new Error('user left');
    const call = policy.execute(
      (context) =>
        new Promise((_, reject) =>
          context.signal.addEventListener('abort', () => reject(context.signal.reason)),
        ),
      { signal: controller.signal },
    );
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(policy.state().state).toBe('closed');
  });

  it('opens on a sampling window once the minimum throughput is there', async () => {
    const clock = new ManualClock(0);
    const policy = circuitBreaker({
      clock,
      breaker: samplingBreaker({ threshold: 0.5, windowMs: 10_000, minimumCalls: 6, clock }),
    });
    for (let i = 0; i < 3; i++) await policy.execute(() => 'ok');
    await policy.execute(fail(boom())).catch(() => {});
    await policy.execute(fail(boom())).catch(() => {});
    expect(policy.state().state).toBe('closed'); // 2 of 5: below the minimum throughput
    clock.advance(11_000); // the successes leave the window
    for (let i = 0; i < 3; i++) await policy.execute(() => 'ok');
    for (let i = 0; i < 2; i++) await policy.execute(fail(boom())).catch(() => {});
    expect(policy.state().state).toBe('closed'); // 2 failures of 5 calls
    await policy.execute(fail(boom())).catch(() => {});
    expect(policy.state().state).toBe('open'); // 3 of 6 = 50%
  });

  it('takes a SamplingWindowBreaker instance as breaker and counts each key on its own copy', async () => {
    const clock = new ManualClock(0);
    const template = new SamplingWindowBreaker({ threshold: 0.5, windowMs: 10_000, minimumCalls: 2, clock });
    const policy = circuitBreaker({ clock, key: 'model', breaker: template });
    const run = (model: string, fn: () => unknown) =>
      policy.execute(fn, { attributes: { model } }).catch((error: unknown) => error);
    expect(await run('a', () => 'ok')).toBe('ok');
    await run('a', fail(boom()));
    await run('b', () => 'ok');
    expect(policy.state('a').state).toBe('open'); // 1 of 2 on key a
    expect(policy.state('b').state).toBe('closed');
    expect(template.state).toEqual({ buckets: [] }); // the instance given is a template, never counted on
  });

  it('rejects a breaker instance it cannot copy for each key, naming the option', () => {
    class Sealed {
      #failures = 0;
      get state() {
        return this.#failures;
      }
      set state(value: unknown) {
        this.#failures = Number(value);
      }
      success() {}
      failure() {
        return ++this.#failures > 1;
      }
    }
    expect(() => circuitBreaker({ breaker: new Sealed() })).toThrow(
      expect.objectContaining({ code: 'ERR_BULWARK_INVALID_OPTION', option: 'breaker' }),
    );
  });

  it('counts a slow call as a failure, timing a stream to its first chunk', async () => {
    const { clock, policy } = setup({ breaker: () => new ConsecutiveBreaker(1), slowCallMs: 500 });
    // A long stream whose first chunk came quickly is not slow.
    await policy.execute(async (context) => {
      clock.advance(100);
      context.commit();
      clock.advance(5_000);
      return 'long healthy stream';
    });
    expect(policy.state().state).toBe('closed');
    const value = await policy.execute(async () => {
      clock.advance(600);
      return 'slow but fine';
    });
    expect(value).toBe('slow but fine');
    expect(policy.state().state).toBe('open');
  });

  it('exports and restores its state', async () => {
    const { policy } = setup({ key: 'model', breaker: () => new ConsecutiveBreaker(2) });
    await policy.execute(fail(boom()), { attributes: { model: 'a' } }).catch(() => {});
    for (let i = 0; i < 2; i++)
      await policy.execute(fail(boom()), { attributes: { model: 'b' } }).catch(() => {});
    const snapshot = JSON.parse(JSON.stringify(policy.exportState()));
    const { policy: restored, changes } = setup({ key: 'model', breaker: () => new ConsecutiveBreaker(2) });
    restored.restoreState(snapshot);
    expect(restored.state('b')).toEqual({ state: 'open', retryAt: 1_000, probes: 0 });
    expect(changes).toEqual(['b:closed->open']);
    // a's one failure was carried over: one more opens it.
    await restored.execute(fail(boom()), { attributes: { model: 'a' } }).catch(() => {});
    expect(restored.state('a').state).toBe('open');
    expect(() => restored.restoreState({} as never)).toThrow(/not a snapshot/);
    expect(() => restored.restoreState({ version: 2, breakers: {} } as never)).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidOption, option: 'snapshot' }),
    );
    expect(() => restored.restoreState(null as never)).toThrowError(InvalidOptionError);
  });

  it('keeps its map bounded', async () => {
    const { policy } = setup({ key: 'model', maxKeys: 2 });
    for (const model of ['a', 'b', 'c']) await policy.execute(() => 1, { attributes: { model } });
    expect([...policy.states()].map(([key]) => key)).toEqual(['b', 'c']);
  });

  it('copies a breaker instance for each key', async () => {
    const { policy } = setup({ key: 'model', breaker: new ConsecutiveBreaker(2) });
    await policy.execute(fail(boom()), { attributes: { model: 'a' } }).catch(() => {});
    await policy.execute(fail(boom()), { attributes: { model: 'b' } }).catch(() => {});
    expect(policy.state('a').state).toBe('closed');
    expect(policy.state('b').state).toBe('closed');
  });

  it('with a store: follows its answers, tells it what calls decided, and uses its own state when it has no answer', async () => {
    const told: string[] = [];
    let answer: BreakerAdmission | undefined = { state: 'closed' };
    const store: BreakerStore = {
      admit: async () => answer,
      open: async (key, halfOpenAfterMs) => {
        told.push(`open ${key} ${halfOpenAfterMs}`);
        throw new Error('store down'); // never changes the call's result
      },
      close: async (key) => {
        told.push(`close ${key}`);
      },
      releaseProbe: async (key, probe) => {
        told.push(`release ${key} ${probe.id}`);
      },
    };
    const { clock, policy, changes } = setup({ breaker: new ConsecutiveBreaker(2), store });
    for (let i = 0; i < 2; i++) await expect(policy.execute(fail(boom()))).rejects.toThrow('reset');
    expect(told).toEqual(['open default 1000']);
    answer = { state: 'open', retryAfterMs: 400 };
    let ran = 0;
    const refused = await policy.execute(() => ran++).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAt).toBe(clock.now() + 400);
    answer = { state: 'half-open', probe: undefined };
    await expect(policy.execute(() => ran++)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(ran).toBe(0);
    answer = { state: 'half-open', probe: { id: 'p1' } };
    await expect(policy.execute(() => 'probe')).resolves.toBe('probe');
    expect(told).toEqual(['open default 1000', 'close default']);
    expect(changes).toEqual(['default:closed->open', 'default:open->half-open', 'default:half-open->closed']);
    // No answer from the store: this process's own state decides, as without a store.
    answer = undefined;
    for (let i = 0; i < 2; i++) await expect(policy.execute(fail(boom()))).rejects.toThrow('reset');
    await expect(policy.execute(() => ran++)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(ran).toBe(0);
    const failing = circuitBreaker({
      store: { ...store, admit: () => Promise.reject(new Error('closed for safety')) },
    });
    await expect(failing.execute(() => ran++)).rejects.toThrow('closed for safety');
    expect(ran).toBe(0);
  });

  it.each([
    [{ halfOpenAfterMs: -1 }, 'halfOpenAfterMs'],
    [{ halfOpenProbes: 0 }, 'halfOpenProbes'],
    [{ slowCallMs: Number.NaN }, 'slowCallMs'],
    [{ countOverload: 'yes' }, 'countOverload'],
    [{ key: 5 }, 'key'],
    [{ threshold: 5 }, 'threshold'],
    [{ store: { admit() {}, open() {} } }, 'store'],
  ])('rejects %j naming the option', (options, option) => {
    expect(() => circuitBreaker(options as never)).toThrowError(InvalidOptionError);
    expect(() => circuitBreaker(options as never)).toThrowError(new RegExp(`"${option}"`));
  });
});
