import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cancel } from './cancel.js';
import { cancelOf, createContext, withCancel } from './context.js';
import { neverAborted } from './never-aborted.js';

/** Counts the AbortControllers made while `fn` runs. */
async function countControllers(fn: () => Promise<void> | void): Promise<number> {
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

describe('Cancel', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is the caller signal itself when it follows one, and Cancel.never for none', () => {
    const controller = new AbortController();
    const cancel = Cancel.of(controller.signal);
    expect(cancel.signal).toBe(controller.signal);
    expect(Cancel.of(undefined)).toBe(Cancel.never);
    expect(Cancel.of(neverAborted)).toBe(Cancel.never);
    const listener = vi.fn();
    cancel.onAbort(listener);
    controller.abort('why');
    expect(cancel.aborted).toBe(true);
    expect(cancel.reason).toBe('why');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('passes the outer reason inward, calling onOuterAbort before the inner listeners', () => {
    const outer = Cancel.of(new AbortController().signal).link();
    const order: string[] = [];
    const inner = outer.link((reason) => order.push(`outer-abort ${String(reason)}`));
    inner.onAbort(() => order.push(`inner ${String(inner.reason)}`));
    outer.abort('stop');
    expect(order).toEqual(['outer-abort stop', 'inner stop']);
    expect(inner.aborted).toBe(true);
  });

  it('aborts on its own without touching the outer one, once', () => {
    const outer = Cancel.never.link();
    const inner = outer.link();
    const listener = vi.fn();
    inner.onAbort(listener);
    inner.abort('first');
    inner.abort('second');
    expect(inner.reason).toBe('first');
    expect(outer.aborted).toBe(false);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('stops following the outer cancel after dispose, and a removed listener is not called', () => {
    const outer = Cancel.never.link();
    const inner = outer.link();
    const removed = vi.fn();
    const kept = vi.fn();
    inner.onAbort(removed)();
    inner.onAbort(kept);
    inner.dispose();
    outer.abort('late');
    expect(inner.aborted).toBe(false);
    inner.abort('own');
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('starts aborted when linked to an aborted cancel, and calls no listener added then', () => {
    const outer = Cancel.never.link();
    outer.abort('gone');
    const inner = outer.link();
    expect(inner.aborted).toBe(true);
    expect(inner.reason).toBe('gone');
    const listener = vi.fn();
    inner.onAbort(listener);
    expect(listener).not.toHaveBeenCalled();
    expect(inner.signal.aborted).toBe(true);
    expect(inner.signal.reason).toBe('gone');
  });

  it('a listener that throws does not stop the others', async () => {
    const cancel = Cancel.never.link();
    const second = vi.fn();
    cancel.onAbort(() => {
      throw new Error('listener failed');
    });
    cancel.onAbort(second);
    const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    cancel.abort('x');
    expect(second).toHaveBeenCalledTimes(1);
    expect(await uncaught).toMatchObject({ message: 'listener failed' });
  });

  it('makes an AbortSignal only when one is read, and that signal follows the cancel', async () => {
    const made = await countControllers(() => {
      const cancel = Cancel.never.link();
      cancel.onAbort(() => {});
      cancel.abort('unread');
    });
    expect(made).toBe(0);
    let signal: AbortSignal | undefined;
    const cancel = Cancel.never.link();
    const madeOnRead = await countControllers(() => {
      signal = cancel.signal;
      expect(cancel.signal).toBe(signal);
    });
    expect(madeOnRead).toBe(1);
    cancel.abort('read');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('read');
  });
});

describe('context cancellation', () => {
  it('a derived context carries the linked cancel, and its signal follows it', () => {
    const caller = new AbortController();
    const context = createContext({ signal: caller.signal });
    expect(cancelOf(context).signal).toBe(caller.signal);
    const linked = cancelOf(context).link();
    const inner = withCancel(context, linked, { attempt: 1 });
    expect(cancelOf(inner)).toBe(linked);
    expect(inner.attempt).toBe(1);
    const signal = inner.signal;
    caller.abort('caller');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('caller');
  });

  it('a context made elsewhere is read through its signal', () => {
    const controller = new AbortController();
    const base = createContext();
    const foreign = { ...base, signal: controller.signal, with: base.with.bind(base) } as typeof base;
    controller.abort('foreign');
    expect(cancelOf(foreign).aborted).toBe(true);
    expect(cancelOf(foreign).reason).toBe('foreign');
  });
});
