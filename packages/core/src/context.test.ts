import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { createContext } from './context.js';
import { InvalidOptionError } from './errors.js';
import { noop } from './policy.js';

describe('Context', () => {
  it('shares one commit state within an attempt and starts fresh on a new attempt', () => {
    const root = createContext();
    const attempt0 = root.with({ attempt: 0 });
    const deeper = attempt0.with({ attributes: { a: 1 } });
    expect(deeper.committed).toBe(false);
    deeper.commit();
    expect(attempt0.committed).toBe(true);
    expect(deeper.committed).toBe(true);
    const attempt1 = attempt0.with({ attempt: 1 });
    expect(attempt1.attempt).toBe(1);
    expect(attempt1.committed).toBe(false);
    expect(attempt0.committed).toBe(true);
  });

  it('keeps the earliest deadline and measures what is left on its clock', () => {
    const clock = new ManualClock(1_000);
    const context = createContext({ clock }).with({ deadline: 6_000 }).with({ deadline: 9_000 });
    expect(context.deadline).toBe(6_000);
    expect(context.remainingMs()).toBe(5_000);
    clock.advance(7_000);
    expect(context.remainingMs()).toBe(0);
    expect(createContext({ clock }).remainingMs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('merges budgets, ignoring undefined entries', () => {
    const context = createContext()
      .with({ budgets: { connectMs: 100, idleMs: 5 } })
      .with({ budgets: { idleMs: 50, headersMs: undefined } });
    expect(context.budgets).toEqual({ connectMs: 100, idleMs: 50 });
  });

  it('copies the caller attributes instead of aliasing them', () => {
    const attributes = { model: 'a' };
    const context = createContext({ attributes });
    attributes.model = 'b';
    expect(context.attributes.model).toBe('a');
  });

  it('tells commit observers once, with the clock time, and only for their attempt', () => {
    const clock = new ManualClock(100);
    const seen: number[] = [];
    const attempt0 = createContext({ clock }).with({ attempt: 0, onCommit: (at) => seen.push(at) });
    const inner = attempt0.with({ attributes: { deeper: true } });
    clock.advance(50);
    inner.commit();
    inner.commit();
    expect(seen).toEqual([150]);
    const attempt1 = attempt0.with({ attempt: 1, onCommit: (at) => seen.push(-at) });
    clock.advance(10);
    attempt1.commit();
    expect(seen).toEqual([150, -160]);
    // Observing an attempt that already committed reports at once.
    attempt1.with({ onCommit: (at) => seen.push(at) });
    expect(seen).toEqual([150, -160, 160]);
  });

  it('tells first-chunk observers once per attempt, without committing it', () => {
    const clock = new ManualClock(100);
    const seen: number[] = [];
    const attempt0 = createContext({ clock }).with({ attempt: 0, onFirstChunk: (at) => seen.push(at) });
    clock.advance(30);
    attempt0.with({ attributes: { deeper: true } }).firstChunk();
    attempt0.firstChunk();
    expect(seen).toEqual([130]);
    expect(attempt0.committed).toBe(false);
    const attempt1 = attempt0.with({ attempt: 1, onFirstChunk: (at) => seen.push(-at) });
    clock.advance(5);
    attempt1.firstChunk();
    expect(seen).toEqual([130, -135]);
    // Observing an attempt that already received its first chunk reports at once.
    attempt1.with({ onFirstChunk: (at) => seen.push(at) });
    expect(seen).toEqual([130, -135, 135]);
  });
});

describe('a call without a signal', () => {
  it('adds no listener to the shared never-aborted signal, however many calls run at once', async () => {
    const { AttemptGuard } = await import('./attempt-guard.js');
    const { linkSignal, raceSignal, sleep } = await import('./signal.js');
    const clock = new ManualClock();
    const contexts = Array.from({ length: 20 }, () => createContext({ clock }));
    const shared = contexts[0]?.signal as AbortSignal;
    expect(contexts.every((context) => context.signal === shared)).toBe(true);
    const guards = contexts.map((context) => new AttemptGuard(context));
    const links = contexts.map((context) => linkSignal(context.signal));
    const sleeps = contexts.map((context) => sleep(10, { clock, signal: context.signal }));
    const races = contexts.map((context) => raceSignal(Promise.resolve(1), context.signal));
    expect(getEventListeners(shared, 'abort')).toHaveLength(0);
    clock.advance(10);
    await Promise.all([...sleeps, ...races]);
    for (const guard of guards) guard.dispose();
    for (const link of links) link.dispose();
  });
});

describe('reportModelLoad()', () => {
  it('reaches every onModelLoad listener of the contexts it derives from, across attempts, outermost first', () => {
    const seen: string[] = [];
    const outer = createContext().with({ onModelLoad: (wait) => seen.push(`outer:${wait.type}`) });
    const attempt = outer
      .with({ attempt: 1 })
      .with({ onModelLoad: (wait) => seen.push(`inner:${wait.type}`) });
    attempt.reportModelLoad({ type: 'wait-start', model: 'm', host: 'h', loadStartedAt: 0, at: 0 });
    outer.reportModelLoad({ type: 'wait-start', model: 'm', host: 'h', loadStartedAt: 0, at: 0 });
    createContext().reportModelLoad({ type: 'wait-start', model: 'm', host: 'h', loadStartedAt: 0, at: 0 });
    expect(seen).toEqual(['outer:wait-start', 'inner:wait-start', 'outer:wait-start']);
  });
});

describe('Context lifecycle events', () => {
  it('delivers call events to the listeners of the context and of every context above it, in order', () => {
    const clock = new ManualClock(100);
    const seen: string[] = [];
    const root = createContext({ clock, onCallEvent: (event) => seen.push(`caller:${event.type}`) });
    const outer = root.with({ onCallEvent: (event) => seen.push(`outer:${event.type}`) });
    const attempt = outer.with({ attempt: 0 });
    const inner = attempt.with({ onCallEvent: (event) => seen.push(`inner:${event.type}`) });
    outer.reportCallEvent({ type: 'attempt-start', attempt: 0, maxAttempts: 2, at: clock.now() });
    inner.reportCallEvent({
      type: 'attempt-end',
      attempt: 0,
      at: clock.now(),
      outcome: 'success',
      error: undefined,
      committed: false,
    });
    expect(seen).toEqual([
      'caller:attempt-start',
      'outer:attempt-start',
      'caller:attempt-end',
      'outer:attempt-end',
      'inner:attempt-end',
    ]);
  });

  it('reports one commit per call, with the attempt that committed, however many contexts commit', () => {
    const clock = new ManualClock(5);
    const events: unknown[] = [];
    const root = createContext({ clock, onCallEvent: (event) => events.push(event) });
    const attempt1 = root.with({ attempt: 1, onCommit: () => root.commit() });
    clock.advance(10);
    attempt1.commit();
    attempt1.commit();
    root.with({ attempt: 2 }).commit();
    expect(events).toEqual([{ type: 'commit', attempt: 1, at: 15 }]);
    expect(root.committed).toBe(true);
  });

  it('keeps reporting when a listener throws, and surfaces the error on a later turn', async () => {
    const thrown = new Error('listener bug');
    const seen: string[] = [];
    const surfaced = new Promise<unknown>((resolve) => {
      const original = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const listener of original) process.on('uncaughtException', listener);
        resolve(error);
      });
    });
    const context = createContext({
      onCallEvent: () => {
        throw thrown;
      },
    }).with({ onCallEvent: (event) => seen.push(event.type) });
    context.reportCallEvent({ type: 'give-up', attempt: 0, reason: 'budget', error: undefined, at: 0 });
    expect(seen).toEqual(['give-up']);
    expect(await surfaced).toBe(thrown);
  });

  it('rejects an onCallEvent that is not a function, naming it', async () => {
    const error = await noop()
      .execute(() => 1, { onCallEvent: 'log' as never })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).message).toContain('"onCallEvent"');
  });
});
