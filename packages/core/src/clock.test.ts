import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ManualClock, realClock } from './clock.js';
import { linkSignal, raceSignal, sleep } from './signal.js';

describe('realClock long delays', () => {
  it('holds a delay longer than a Node timer without firing early or warning, and Infinity never fires', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let fired = 0;
      const long = realClock.setTimeout(() => fired++, 2_147_483_647 + 1_000);
      const never = realClock.setTimeout(() => fired++, Number.POSITIVE_INFINITY);
      await new Promise((resolve) => setTimeout(resolve, 50));
      long.clear();
      never.clear();
      expect(fired).toBe(0);
      expect(warnings.filter((warning) => warning.name === 'TimeoutOverflowWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('ManualClock', () => {
  it('fires timers in order of due time, only when advanced', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    const cleared = clock.setTimeout(() => fired.push('never'), 15);
    cleared.clear();
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a@10', 'b@20']);
    expect(clock.now()).toBe(20);
    expect(clock.pending).toBe(0);
  });

  it('drives sleep() without real time passing', async () => {
    const clock = new ManualClock();
    let done = false;
    const waiting = sleep(1_000, { clock }).then(() => {
      done = true;
    });
    await clock.advanceAsync(999);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await waiting;
    expect(done).toBe(true);
  });
});

describe('sleep()', () => {
  it('settles at once with the reason when the signal aborts, and clears its timer', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const waiting = sleep(60_000, { clock, signal: controller.signal });
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
  });
});

describe('linkSignal()', () => {
  it("follows the parent with the parent's own reason and can be unlinked", () => {
    const parent = new AbortController();
    const linked = linkSignal(parent.signal);
    const reason = { why: 'caller' };
    parent.abort(reason);
    expect(linked.signal.reason).toBe(reason);

    const parent2 = new AbortController();
    const unlinked = linkSignal(parent2.signal);
    unlinked.dispose();
    parent2.abort('late');
    expect(unlinked.signal.aborted).toBe(false);
  });

  it("calls onParentAbort with the parent's reason before the child's listeners, and not after dispose", () => {
    const parent = new AbortController();
    const order: string[] = [];
    const linked = linkSignal(parent.signal, (reason) => order.push(`callback ${String(reason)}`));
    linked.signal.addEventListener('abort', () => order.push(`child ${String(linked.signal.reason)}`));
    parent.abort('gone');
    expect(order).toEqual(['callback gone', 'child gone']);

    const parent2 = new AbortController();
    const seen: unknown[] = [];
    linkSignal(parent2.signal, (reason) => seen.push(reason)).dispose();
    parent2.abort('late');
    expect(seen).toEqual([]);
  });

  it('aborts the child alone with its own reason', () => {
    const parent = new AbortController();
    const linked = linkSignal(parent.signal);
    linked.abort('mine');
    expect(linked.signal.reason).toBe('mine');
    expect(parent.signal.aborted).toBe(false);
  });
});

describe('raceSignal()', () => {
  it('rejects with the reason when the signal wins', async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => {});
    const racing = raceSignal(never, controller.signal);
    controller.abort('gone');
    await expect(racing).rejects.toBe('gone');
  });
});

describe('realClock', () => {
  it('does not keep the process alive with a pending timer', () => {
    const source = new URL('./clock.ts', import.meta.url).pathname;
    const script = `import { realClock } from ${JSON.stringify(source)}; realClock.setTimeout(() => { console.log('fired'); }, 60_000); console.log('scheduled');`;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(child.stdout).toContain('scheduled');
    expect(child.stdout).not.toContain('fired');
    expect(child.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('is monotonic epoch time', () => {
    const a = realClock.now();
    const b = realClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - Date.now())).toBeLessThan(1_000);
  });
});
