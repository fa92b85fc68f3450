import { describe, expect, it } from 'vitest';
import { AttemptGuard } from './attempt-guard.js';
import { ManualClock } from './clock.js';
import { createContext } from './context.js';
import { TimeoutError } from './errors.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A guard on a manual clock, with the clock to move it. */
function guarded(): { clock: ManualClock; guard: AttemptGuard } {
  const clock = new ManualClock();
  return { clock, guard: new AttemptGuard(createContext({ clock })) };
}

describe('AttemptGuard', () => {
  it('a restarted budget fires a full budget after the last restart, on one timer', async () => {
    const { clock, guard } = guarded();
    guard.start('idle', 100);
    clock.advance(60);
    guard.start('idle', 100);
    guard.start('idle', 100);
    expect(clock.pending).toBe(1);
    clock.advance(40);
    await turn();
    expect(guard.failure).toBeUndefined();
    clock.advance(59);
    await turn();
    expect(guard.failure).toBeUndefined();
    clock.advance(1);
    await turn();
    expect(guard.failure).toBeInstanceOf(TimeoutError);
    expect(guard.failure).toMatchObject({ phase: 'idle', timeoutMs: 100 });
    expect(clock.pending).toBe(0);
  });

  it('dispose clears a budget that re-armed itself after a restart', async () => {
    const { clock, guard } = guarded();
    guard.start('headers', 500);
    guard.start('idle', 100);
    clock.advance(50);
    guard.start('idle', 100);
    clock.advance(50);
    await turn();
    expect(clock.pending).toBe(2);
    guard.dispose();
    expect(clock.pending).toBe(0);
    clock.advance(1_000);
    await turn();
    expect(guard.failure).toBeUndefined();
  });

  it('a restart with another size replaces the timer', async () => {
    const { clock, guard } = guarded();
    guard.start('idle', 100);
    guard.start('idle', 30);
    clock.advance(30);
    await turn();
    expect(guard.failure).toMatchObject({ phase: 'idle', timeoutMs: 30 });
  });

  it('a chunk seen between the timer and its decision keeps the attempt alive', async () => {
    const { clock, guard } = guarded();
    guard.start('idle', 100);
    clock.advance(100);
    // the timer fired; the decision waits for pending I/O, which restarts the budget
    guard.start('idle', 100);
    await turn();
    expect(guard.failure).toBeUndefined();
    clock.advance(100);
    await turn();
    expect(guard.failure).toMatchObject({ phase: 'idle' });
  });

  it('tells onFail, rejects failed and aborts its signal once, with the first failure', async () => {
    const controller = new AbortController();
    const guard = new AttemptGuard(createContext({ signal: controller.signal }));
    const seen: unknown[] = [];
    guard.onFail((error) => seen.push(error));
    const signal = guard.signal;
    const failed = guard.failed.catch((error: unknown) => error);
    const reason = new Error('caller left');
    controller.abort(reason);
    guard.fail(new Error('later'));
    expect(seen).toEqual([reason]);
    expect(await failed).toBe(reason);
    expect(signal.aborted).toBe(true);
    // made after the failure: already settled
    await expect(guard.failed).rejects.toBe(reason);
    const late: unknown[] = [];
    guard.onFail((error) => late.push(error));
    expect(late).toEqual([reason]);
  });

  it('arms no budget the deadline in force would overrun', () => {
    const clock = new ManualClock();
    const context = createContext({ clock }).with({ deadline: clock.now() + 50 });
    const guard = new AttemptGuard(context);
    guard.start('idle', 100);
    expect(clock.pending).toBe(0);
    guard.start('idle', 20);
    expect(clock.pending).toBe(1);
    guard.dispose();
    expect(clock.pending).toBe(0);
  });
});
