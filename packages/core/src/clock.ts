import { MAX_TIMER_MS } from './options.js';
import type { Clock, TimerHandle } from './types.js';

const origin = performance.timeOrigin;

/** The real clock: monotonic epoch milliseconds, timers `unref()`ed. */
export const realClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout(callback, delayMs) {
    // A delay longer than a Node timer holds waits in steps; `Infinity` never fires.
    if (delayMs === Number.POSITIVE_INFINITY) return { clear() {} };
    if (delayMs <= MAX_TIMER_MS) {
      const timer = setTimeout(callback, Math.max(0, delayMs));
      timer.unref();
      return { clear: () => clearTimeout(timer) };
    }
    let timer: ReturnType<typeof setTimeout>;
    const arm = (left: number): void => {
      timer = setTimeout(
        left > MAX_TIMER_MS ? () => arm(left - MAX_TIMER_MS) : callback,
        Math.min(MAX_TIMER_MS, Math.max(0, left)),
      );
      timer.unref();
    };
    arm(delayMs);
    return { clear: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
  cleared: boolean;
}

/**
 * A clock that moves only when told. Timers fire in order of due time during {@link ManualClock.advance}.
 * Use {@link ManualClock.advanceAsync} when the code under test awaits between timers.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /** @param start the initial time in epoch milliseconds. @default 2026-01-01T00:00:00Z */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      cleared: false,
    };
    this.#timers.push(timer);
    return {
      clear: () => {
        timer.cleared = true;
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  /** Timers still pending. */
  get pending(): number {
    return this.#timers.length;
  }

  #next(until: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (
        timer.at <= until &&
        (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq))
      ) {
        best = timer;
      }
    }
    return best;
  }

  #fire(timer: ManualTimer): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    this.#now = Math.max(this.#now, timer.at);
    timer.callback();
  }

  /** Moves time forward by `ms`, firing due timers synchronously in order. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (let timer = this.#next(until); timer; timer = this.#next(until)) this.#fire(timer);
    this.#now = until;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting promise callbacks run
   * before and after each, so code that awaits between timers sees each one.
   */
  async advanceAsync(ms: number): Promise<void> {
    const until = this.#now + ms;
    await flushMicrotasks();
    for (let timer = this.#next(until); timer; timer = this.#next(until)) {
      this.#fire(timer);
      await flushMicrotasks();
    }
    this.#now = until;
    await flushMicrotasks();
  }
}

/** Lets queued promise callbacks run (a macrotask turn). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
