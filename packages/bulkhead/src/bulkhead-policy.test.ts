import { BulkheadRejectedError, InvalidOptionError, ManualClock, TimeoutError, wrap } from '@bulwark/core';
import { timeout } from '@bulwark/timeout';
import { describe, expect, it } from 'vitest';
import { type BulkheadPolicy, bulkhead } from './bulkhead-policy.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('bulkhead()', () => {
  it('runs at most `limit` at once, queues in order and rejects the overflow at once', async () => {
    const policy = bulkhead({ limit: 4, queue: 50 });
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const gates = Array.from({ length: 500 }, () => deferred());
    const calls = gates.map((gate, index) =>
      policy.execute(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        order.push(index);
        await gate.promise;
        running--;
        return index;
      }),
    );
    const settled = calls.map((call) =>
      call.then(
        () => 'ok',
        (error: unknown) => error,
      ),
    );
    await tick();
    expect(policy.state()).toEqual({ running: 4, queued: 50, rejected: 446 });
    for (const gate of gates) gate.resolve();
    const outcomes = await Promise.all(settled);
    expect(outcomes.filter((outcome) => outcome === 'ok')).toHaveLength(54);
    const rejected = outcomes.filter((outcome) => outcome instanceof BulkheadRejectedError);
    expect(rejected).toHaveLength(446);
    expect((rejected[0] as BulkheadRejectedError).message).toBe(
      'Bulkhead "default" is full: 4 running and 50 queued',
    );
    expect(maxRunning).toBe(4);
    expect(order).toEqual(Array.from({ length: 54 }, (_, index) => index));
    expect(policy.state()).toEqual({ running: 0, queued: 0, rejected: 446 });
  });

  it('keeps keys apart', async () => {
    const policy = bulkhead({ key: 'model', limit: 1, queue: 0 });
    const gate = deferred();
    const a = policy.execute(() => gate.promise, { attributes: { model: 'a' } });
    const b = policy.execute(() => 'b runs', { attributes: { model: 'b' } });
    await expect(b).resolves.toBe('b runs');
    await expect(policy.execute(() => 1, { attributes: { model: 'a' } })).rejects.toThrow(
      BulkheadRejectedError,
    );
    gate.resolve();
    await a;
    expect(policy.state('a')).toEqual({ running: 0, queued: 0, rejected: 1 });
  });

  it('holds the slot until a long operation (a stream) settles', async () => {
    const policy = bulkhead({ limit: 1, queue: 5 });
    const stream = deferred();
    const events: string[] = [];
    const first = policy.execute(async (context) => {
      context.commit();
      events.push('stream started');
      await stream.promise;
      events.push('stream ended');
    });
    const second = policy.execute(() => {
      events.push('second ran');
    });
    await tick();
    expect(events).toEqual(['stream started']);
    stream.resolve();
    await Promise.all([first, second]);
    expect(events).toEqual(['stream started', 'stream ended', 'second ran']);
  });

  it('fails a wait longer than queueMs with a queue TimeoutError, and clears its timer', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ limit: 1, queue: 5, queueMs: 1_000 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise, { clock });
    const second = policy.execute(() => 'never', { clock });
    const caught = second.catch((error: unknown) => error);
    await clock.advanceAsync(999);
    expect(policy.state().queued).toBe(1);
    await clock.advanceAsync(1);
    const error = (await caught) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.phase).toBe('queue');
    expect(error.timeoutMs).toBe(1_000);
    expect(policy.state().queued).toBe(0);
    gate.resolve();
    await first;
    expect(clock.pending).toBe(0);
  });

  it('leaves the deadline to the timeout that owns it, and leaves the queue when it fires', async () => {
    const clock = new ManualClock();
    const policy = bulkhead({ limit: 1, queue: 5, queueMs: 60_000 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise, { clock });
    const caught = wrap(timeout({ totalMs: 500 }), policy)
      .execute(() => 'never', { clock })
      .catch((error: unknown) => error);
    await clock.advanceAsync(500);
    const error = (await caught) as TimeoutError;
    expect(error.phase).toBe('total');
    expect(policy.state().queued).toBe(0);
    gate.resolve();
    await first;
    expect(clock.pending).toBe(0);
  });

  it("lets a cancelled waiter leave at once with the caller's reason, and the next moves up", async () => {
    const policy = bulkhead({ limit: 1, queue: 10 });
    const gate = deferred();
    const first = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const reason = { why: 'user left' };
    const cancelled = policy.execute(() => 'never', { signal: controller.signal });
    const third = policy.execute(() => 'third');
    controller.abort(reason);
    await expect(cancelled).rejects.toBe(reason);
    expect(policy.state().queued).toBe(1);
    gate.resolve();
    await first;
    await expect(third).resolves.toBe('third');
  });

  it('does not starve after many cancelled waiters', async () => {
    const policy = bulkhead({ limit: 2, queue: 5_000 });
    const gates = [deferred(), deferred()];
    const running = gates.map((gate) => policy.execute(() => gate.promise));
    const controllers = Array.from({ length: 2_000 }, () => new AbortController());
    const abandoned = controllers.map((controller) =>
      policy.execute(() => 'never', { signal: controller.signal }).catch(() => 'left'),
    );
    const last = policy.execute(() => 'served');
    for (const controller of controllers) controller.abort();
    expect(await Promise.all(abandoned)).toEqual(controllers.map(() => 'left'));
    for (const gate of gates) gate.resolve();
    await Promise.all(running);
    await expect(last).resolves.toBe('served');
    expect(policy.state()).toEqual({ running: 0, queued: 0, rejected: 0 });
  });

  it('reports queued, acquired, rejected and released events with the context', async () => {
    const policy = bulkhead({ limit: 1, queue: 1 });
    const seen: string[] = [];
    policy.onQueued((event) => seen.push(`queued ${event.queued} ${event.context.attributes.model}`));
    policy.onAcquired((event) => seen.push(`acquired ${event.key}`));
    policy.onRejected((event) => seen.push(`rejected ${event.key}`));
    policy.onReleased((event) => seen.push(`released ${event.key}`));
    const refusals: unknown[] = [];
    policy.onRejected((event) => refusals.push(event.error));
    const gate = deferred();
    const attributes = { model: 'm' };
    const first = policy.execute(() => gate.promise, { attributes });
    const second = policy.execute(() => undefined, { attributes });
    const refused = await policy.execute(() => undefined, { attributes }).catch((error: unknown) => error);
    // the event carries the very error the call rejects with
    expect(refused).toBeInstanceOf(BulkheadRejectedError);
    expect(refusals).toEqual([refused]);
    expect(refusals[0]).toBe(refused);
    gate.resolve();
    await Promise.all([first, second]);
    expect(seen).toEqual([
      'acquired default',
      'queued 1 m',
      'rejected default',
      'released default',
      'acquired default',
      'released default',
    ]);
  });

  it('keeps the former snapshot names as aliases of state() and states()', async () => {
    const policy = bulkhead({ limit: 1, queue: 0, key: 'model' });
    const gate = deferred();
    const running = policy.execute(() => gate.promise, { attributes: { model: 'a' } });
    expect(policy.kind).toBe('bulkhead');
    expect(policy.stats('a')).toEqual(policy.state('a'));
    expect([...policy.entries()]).toEqual([...policy.states()]);
    expect([...policy.states()]).toEqual([['a', { running: 1, queued: 0, rejected: 0 }]]);
    gate.resolve();
    await running;
  });

  it('with a store, holds one limit across policies sharing it and gives every lease back once', async () => {
    let held = 0;
    let releases = 0;
    const store = {
      pollMs: 1,
      async tryAcquire(_key: string, limit: number) {
        if (held >= limit) return undefined;
        held++;
        let released = false;
        return {
          release: () => {
            expect(released).toBe(false);
            released = true;
            releases++;
            held--;
          },
        };
      },
    };
    const policies = [bulkhead({ limit: 2, queue: 100, store }), bulkhead({ limit: 2, queue: 100, store })];
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        (policies[index % 2] as BulkheadPolicy).execute(async () => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          if (index % 2 === 0) order.push(index);
          await tick();
          running--;
        }),
      ),
    );
    expect(maxRunning).toBe(2);
    expect(releases).toBe(30);
    expect(held).toBe(0);
    expect(order).toEqual(Array.from({ length: 15 }, (_, index) => index * 2));
    const refusing = bulkhead({ store: { tryAcquire: () => Promise.reject(new Error('store down')) } });
    await expect(refusing.execute(() => 'never')).rejects.toThrow('store down');
  });

  it.each([
    [{ limit: 0 }, 'limit'],
    [{ limit: Number.NaN }, 'limit'],
    [{ queue: -1 }, 'queue'],
    [{ queueMs: Number.POSITIVE_INFINITY }, 'queueMs'],
    [{ key: 'region' }, 'key'],
    [{ size: 4 }, 'size'],
    [{ store: { acquire() {} } }, 'store'],
  ])('rejects %j naming the option', (options, option) => {
    expect(() => bulkhead(options as never)).toThrowError(InvalidOptionError);
    expect(() => bulkhead(options as never)).toThrowError(new RegExp(`"${option}"`));
  });
});
