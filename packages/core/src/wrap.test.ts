import {
  ConsecutiveBreaker,
  circuitBreaker,
  retry as cockatielRetry,
  fallback,
  handleAll,
  handleWhen,
} from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { fromCockatiel } from './cockatiel-adapter.js';
import { InvalidOptionError } from './errors.js';
import { definePolicy, noop } from './policy.js';
import type { Context, Policy } from './types.js';
import { wrap } from './wrap.js';

function logging(name: string, log: string[]): Policy {
  return definePolicy(async (context, next) => {
    log.push(`${name}:enter`);
    try {
      return await next(context.with({ attributes: { [`seen.${name}`]: true } }));
    } finally {
      log.push(`${name}:exit`);
    }
  });
}

describe('wrap()', () => {
  it('nests left to right: the first policy is outermost', async () => {
    const log: string[] = [];
    const policy = wrap(logging('a', log), logging('b', log), logging('c', log), logging('d', log));
    const result = await policy.execute(() => {
      log.push('fn');
      return 42;
    });
    expect(result).toBe(42);
    expect(log).toEqual([
      'a:enter',
      'b:enter',
      'c:enter',
      'd:enter',
      'fn',
      'd:exit',
      'c:exit',
      'b:exit',
      'a:exit',
    ]);
  });

  it('flattens nested wraps without changing the order', async () => {
    const log: string[] = [];
    const policy = wrap(logging('a', log), wrap(logging('b', log), logging('c', log)));
    await policy.execute(() => undefined);
    expect(log).toEqual(['a:enter', 'b:enter', 'c:enter', 'c:exit', 'b:exit', 'a:exit']);
  });

  it('hands attributes and budgets inward to the innermost function', async () => {
    const budgets = definePolicy((context, next) => next(context.with({ budgets: { firstTokenMs: 1000 } })));
    const deadline = definePolicy((context, next) =>
      next(context.with({ deadline: context.clock.now() + 5000, budgets: { idleMs: 200 } })),
    );
    const inner = definePolicy((context, next) =>
      next(context.with({ deadline: context.clock.now() + 60_000, attributes: { route: '/api/chat' } })),
    );
    let seen: Context | undefined;
    const before = performance.timeOrigin + performance.now();
    await wrap(budgets, deadline, inner).execute(
      (context) => {
        seen = context;
      },
      { attributes: { operation: 'chat', model: 'llama3.2', host: 'http://127.0.0.1:11434' } },
    );
    expect(seen?.attributes).toEqual({
      operation: 'chat',
      model: 'llama3.2',
      host: 'http://127.0.0.1:11434',
      route: '/api/chat',
    });
    expect(seen?.budgets).toEqual({ firstTokenMs: 1000, idleMs: 200 });
    // The earliest deadline in force wins: the inner 60 s never outlives the outer 5 s.
    expect(seen?.deadline).toBeGreaterThanOrEqual(before + 5000);
    expect(seen?.deadline).toBeLessThan(before + 6000);
  });

  it('runs a cockatiel fallback inside wrap()', async () => {
    const log: string[] = [];
    const policy = wrap(
      logging('outer', log),
      fromCockatiel(fallback(handleAll, 'fallback value')),
      logging('inner', log),
    );
    const result = await policy.execute(() => {
      throw new Error('backend down');
    });
    expect(result).toBe('fallback value');
    expect(log).toEqual(['outer:enter', 'inner:enter', 'inner:exit', 'outer:exit']);
  });

  it('runs cockatiel retry and breaker policies inside wrap() with our context intact', async () => {
    const attempts: Array<Record<string, unknown>> = [];
    const policy = wrap(
      fromCockatiel(cockatielRetry(handleAll, { maxAttempts: 2 })),
      fromCockatiel(circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(5) })),
    );
    const result = await policy.execute(
      (context) => {
        attempts.push({ ...context.attributes });
        if (attempts.length < 3) throw new Error('flaky');
        return 'ok';
      },
      { attributes: { model: 'm' } },
    );
    expect(result).toBe('ok');
    expect(attempts).toEqual([{ model: 'm' }, { model: 'm' }, { model: 'm' }]);
  });

  it("brings a caller's abort reason untouched to the innermost function and back out", async () => {
    const controller = new AbortController();
    const reason = { mine: 'user pressed stop' };
    let innerReason: unknown;
    const policy = wrap(
      noop(),
      fromCockatiel(
        fallback(
          handleWhen(() => false),
          'never',
        ),
      ),
      noop(),
    );
    const pending = policy.execute(
      (context) =>
        new Promise((_, reject) => {
          context.signal.addEventListener('abort', () => {
            innerReason = context.signal.reason;
            reject(context.signal.reason);
          });
          setTimeout(() => controller.abort(reason), 5);
        }),
      { signal: controller.signal },
    );
    await expect(pending).rejects.toBe(reason);
    expect(innerReason).toBe(reason);
  });

  it('rejects at once when the signal is already aborted, with its reason', async () => {
    const reason = new Error('already gone');
    let ran = false;
    await expect(
      wrap(noop()).execute(
        () => {
          ran = true;
        },
        { signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(ran).toBe(false);
  });

  it('turns a synchronous throw of the operation into a rejection', async () => {
    const error = new Error('sync');
    await expect(
      wrap(noop()).execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
  });

  it('rejects something that is not a policy, naming its position', () => {
    expect(() => wrap(noop(), {} as Policy)).toThrowError(InvalidOptionError);
    expect(() => wrap(noop(), {} as Policy)).toThrowError(/argument 1 is not a Bulwark policy/);
  });

  it('rejects a signal that is not an AbortSignal', async () => {
    await expect(noop().execute(() => 1, { signal: 'nope' as unknown as AbortSignal })).rejects.toThrowError(
      /option "signal" must be an AbortSignal, got "nope"/,
    );
  });
});
