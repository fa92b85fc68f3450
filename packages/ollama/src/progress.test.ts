import { InvalidOptionError, ManualClock } from '@bulwark/core';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { describe, expect, it } from 'vitest';
import { Ollama } from './ollama.js';
import { ProgressTracker, type TransferProgress, trackProgress } from './progress.js';

const A = 'sha256:aaaa';
const B = 'sha256:bbbb';

describe('ProgressTracker', () => {
  it('adds up the layers: bytes, percent and the layers seen', () => {
    const tracker = new ProgressTracker({ clock: new ManualClock() });
    expect(tracker.update({ status: 'pulling manifest' })).toMatchObject({
      status: 'pulling manifest',
      completedBytes: 0,
      totalBytes: 0,
      percent: undefined,
      layers: 0,
      done: false,
    });
    tracker.update({ status: 'pulling aaaa', digest: A, total: 800 });
    tracker.update({ status: 'pulling aaaa', digest: A, total: 800, completed: 400 });
    const both = tracker.update({ status: 'pulling bbbb', digest: B, total: 200, completed: 100 });
    expect(both).toMatchObject({ completedBytes: 500, totalBytes: 1_000, percent: 50, layers: 2 });
    // a layer's later record replaces its earlier one, never adds to it
    const again = tracker.update({ status: 'pulling aaaa', digest: A, total: 800, completed: 800 });
    expect(again).toMatchObject({ completedBytes: 900, totalBytes: 1_000, percent: 90 });
    tracker.update({ status: 'pulling bbbb', digest: B, total: 200, completed: 200 });
    expect(tracker.update({ status: 'success' })).toMatchObject({
      status: 'success',
      completedBytes: 1_000,
      percent: 100,
      etaMs: 0,
      done: true,
    });
  });

  it('measures the rate over its window and the time left from it', () => {
    const clock = new ManualClock();
    const tracker = new ProgressTracker({ clock, rateWindowMs: 2_000 });
    const first = tracker.update({ digest: A, total: 10_000, completed: 0 });
    expect(first.bytesPerSecond).toBeUndefined();
    expect(first.etaMs).toBeUndefined();
    clock.advance(1_000);
    tracker.update({ digest: A, total: 10_000, completed: 1_000 });
    clock.advance(1_000);
    const steady = tracker.update({ digest: A, total: 10_000, completed: 2_000 });
    expect(steady.bytesPerSecond).toBeCloseTo(1_000);
    expect(steady.etaMs).toBeCloseTo(8_000);
    // faster now: the window forgets the slow start
    clock.advance(1_000);
    tracker.update({ digest: A, total: 10_000, completed: 5_000 });
    clock.advance(1_000);
    const faster = tracker.update({ digest: A, total: 10_000, completed: 8_000 });
    expect(faster.bytesPerSecond).toBeCloseTo(3_000);
    expect(faster.etaMs).toBeCloseTo((2_000 / 3_000) * 1_000);
    // a stall: no bytes over the whole window, so no time left can be told
    clock.advance(3_000);
    tracker.update({ digest: A, total: 10_000, completed: 8_000 });
    clock.advance(100);
    const stalled = tracker.update({ digest: A, total: 10_000, completed: 8_000 });
    expect(stalled.bytesPerSecond).toBe(0);
    expect(stalled.etaMs).toBeUndefined();
  });

  it('rejects bad options, naming them', () => {
    expect(() => new ProgressTracker({ rateWindowMs: -1 })).toThrow(InvalidOptionError);
    expect(() => new ProgressTracker({ rateWindowMs: -1 })).toThrow(/rateWindowMs/);
    expect(() => new ProgressTracker({ clock: 5 as never })).toThrow(/clock/);
  });
});

describe('trackProgress()', () => {
  it('folds a real pull stream into totals that end at 100% with every layer’s bytes', async () => {
    await using sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
    const ollama = new Ollama({ host: sim.url });
    try {
      const seen: TransferProgress[] = [];
      const records: Array<{ digest?: string; total?: number }> = [];
      const stream = await ollama.pull({ model: 'llama3.2', stream: true });
      const recorded = (async function* () {
        for await (const record of stream) {
          records.push(record);
          yield record;
        }
      })();
      for await (const progress of trackProgress(recorded)) seen.push(progress);
      const sizes = new Map(records.filter((r) => r.digest).map((r) => [r.digest, r.total ?? 0]));
      const total = [...sizes.values()].reduce((sum, size) => sum + size, 0);
      expect(sizes.size).toBeGreaterThan(1);
      const last = seen.at(-1);
      expect(last).toMatchObject({ done: true, percent: 100, layers: sizes.size, totalBytes: total });
      expect(last?.completedBytes).toBe(total);
      const percents = seen.map((progress) => progress.percent ?? 0);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(percents.some((percent) => percent > 0 && percent < 100)).toBe(true);
    } finally {
      await ollama.close();
    }
  });
});
