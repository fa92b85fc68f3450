import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { createContext } from './context.js';
import { definePolicy } from './policy.js';
import { StreamLifetime } from './stream-lifetime.js';
import { wrap } from './wrap.js';

const settled = async (promise: Promise<unknown>) => {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

describe('StreamLifetime', () => {
  it('keeps the attempt open until the caller has taken the last piece', async () => {
    const lifetime = new StreamLifetime(createContext().with({ attempt: 0 }));
    expect(await settled(lifetime.done)).toBe('pending');
    lifetime.delivered();
    expect(await settled(lifetime.done)).toBe('pending');
    lifetime.end();
    expect(await settled(lifetime.done)).toBe('resolved');
    expect(lifetime.state).toBe('ended');
  });

  it('commits the attempt when the first piece reaches the caller, not before', () => {
    const context = createContext().with({ attempt: 0 });
    const commits: number[] = [];
    const observed = context.with({ onCommit: (at) => commits.push(at) });
    const lifetime = new StreamLifetime(observed);
    expect(lifetime.committed).toBe(false);
    lifetime.delivered();
    lifetime.delivered();
    expect(lifetime.committed).toBe(true);
    expect(context.committed).toBe(true);
    expect(commits).toHaveLength(1);
  });

  it('fails the attempt with the error of the body', async () => {
    const lifetime = new StreamLifetime(createContext());
    const error = new Error('cut mid-way');
    lifetime.fail(error);
    await expect(lifetime.done).rejects.toBe(error);
    expect(lifetime.state).toBe('failed');
  });

  it('stops the source once when the caller lets go, and ends the attempt without a failure', async () => {
    const reasons: unknown[] = [];
    const lifetime = new StreamLifetime(createContext(), (reason) => reasons.push(reason));
    const why = new Error('caller left');
    lifetime.cancel(why);
    lifetime.cancel('again');
    await expect(lifetime.done).resolves.toBeUndefined();
    expect(reasons).toEqual([why]);
    expect(lifetime.state).toBe('cancelled');
  });

  it('lets the first ending decide: a cancel after the end neither stops the source nor changes the outcome', async () => {
    const reasons: unknown[] = [];
    const lifetime = new StreamLifetime(createContext(), (reason) => reasons.push(reason));
    lifetime.fail(new Error('first'));
    lifetime.end();
    lifetime.cancel();
    await expect(lifetime.done).rejects.toThrow('first');
    expect(reasons).toEqual([]);
    expect(lifetime.state).toBe('failed');
  });

  it('treats a piece handed over after the end or a cancel as a bug', () => {
    const ended = new StreamLifetime(createContext());
    ended.end();
    expect(() => ended.delivered()).toThrow(AssertionError);
    const cancelled = new StreamLifetime(createContext());
    cancelled.cancel();
    expect(() => cancelled.delivered()).toThrow(/after it was cancelled/);
    // Pieces already queued when reading failed still reach the caller, then the error.
    const failed = new StreamLifetime(createContext());
    failed.fail(new Error('cut'));
    expect(() => failed.delivered()).not.toThrow();
  });

  it('holds the policies around the attempt until the consumption ends', async () => {
    const events: string[] = [];
    const outer = definePolicy(async (context, next) => {
      events.push('attempt started');
      try {
        return await next(context);
      } finally {
        events.push('attempt ended');
      }
    });
    let lifetime: StreamLifetime | undefined;
    const call = wrap(outer).execute(async (context) => {
      lifetime = new StreamLifetime(context);
      return lifetime.done;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['attempt started']);
    lifetime?.delivered();
    events.push('caller read the last piece');
    lifetime?.end();
    await call;
    expect(events).toEqual(['attempt started', 'caller read the last piece', 'attempt ended']);
  });
});
