import { type Clock, realClock } from '@bulwark/core';
import { clockOption, duration, validateOptions } from '@bulwark/core/internal';
import type { ProgressResponse } from './types.js';

/** Options of {@link ProgressTracker} and {@link trackProgress}. */
export interface ProgressTrackerOptions {
  /** The window the transfer rate is measured over: recent progress, not the average since the start. @default 5_000 */
  rateWindowMs?: number;
  /** @default realClock */
  clock?: Clock;
}

/** Where a `pull`, `push` or `create` stands, all layers together. */
export interface TransferProgress {
  /** The server's last status line (`pulling 6a0746a1ec1a`, `verifying sha256 digest`, `success`). */
  status: string;
  /** Bytes transferred, over every layer seen so far. */
  completedBytes: number;
  /** Bytes to transfer, over every layer announced so far (later layers add to it when they start). */
  totalBytes: number;
  /** `completedBytes` of `totalBytes` in percent (0 to 100); `undefined` before any layer has a size. */
  percent: number | undefined;
  /** Bytes per second over the last `rateWindowMs`; `undefined` until two records are that far apart in time. */
  bytesPerSecond: number | undefined;
  /** Time left for the layers announced so far at the current rate; `undefined` without a rate. */
  etaMs: number | undefined;
  /** Layers seen (records with a digest). */
  layers: number;
  /** The server said `success`. */
  done: boolean;
}

interface Sample {
  at: number;
  bytes: number;
}

/**
 * Folds the per-layer progress records of `pull`, `push` and `create` into one total: bytes,
 * percent, rate and time left. Feed it each record with {@link update}.
 *
 * @example
 * const tracker = new ProgressTracker();
 * for await (const record of await ollama.pull({ model: 'llama3.2', stream: true })) {
 *   const { percent, bytesPerSecond, etaMs } = tracker.update(record);
 * }
 */
export class ProgressTracker {
  readonly #clock: Clock;
  readonly #rateWindowMs: number;
  readonly #layers = new Map<string, { total: number; completed: number }>();
  readonly #samples: Sample[] = [];
  #completed = 0;
  #total = 0;
  #status = '';
  #done = false;

  constructor(options: ProgressTrackerOptions = {}) {
    validateOptions('ProgressTracker', options, {
      rateWindowMs: duration(1),
      clock: clockOption,
    });
    this.#clock = options.clock ?? realClock;
    this.#rateWindowMs = options.rateWindowMs ?? 5_000;
  }

  /** Takes one record and returns the progress it leads to. */
  update(record: Partial<ProgressResponse>): TransferProgress {
    if (typeof record.status === 'string') this.#status = record.status;
    if (record.status === 'success') this.#done = true;
    const digest = record.digest;
    if (typeof digest === 'string' && digest !== '') {
      const layer = this.#layers.get(digest) ?? { total: 0, completed: 0 };
      const total = finite(record.total) ?? layer.total;
      const completed = finite(record.completed) ?? layer.completed;
      this.#total += total - layer.total;
      this.#completed += completed - layer.completed;
      layer.total = total;
      layer.completed = completed;
      this.#layers.set(digest, layer);
    }
    const now = this.#clock.now();
    this.#samples.push({ at: now, bytes: this.#completed });
    // Keep one sample at or before the window's start, so the rate always spans the whole window.
    while (this.#samples.length > 2 && (this.#samples[1] as Sample).at <= now - this.#rateWindowMs) {
      this.#samples.shift();
    }
    return this.progress();
  }

  /** The progress so far, without a new record. */
  progress(): TransferProgress {
    const oldest = this.#samples[0];
    const newest = this.#samples[this.#samples.length - 1];
    let bytesPerSecond: number | undefined;
    if (oldest && newest && newest.at > oldest.at) {
      bytesPerSecond = Math.max(0, ((newest.bytes - oldest.bytes) * 1_000) / (newest.at - oldest.at));
    }
    const left = Math.max(0, this.#total - this.#completed);
    let etaMs: number | undefined;
    if (this.#done || (this.#total > 0 && left === 0)) etaMs = 0;
    else if (bytesPerSecond !== undefined && bytesPerSecond > 0) etaMs = (left * 1_000) / bytesPerSecond;
    return {
      status: this.#status,
      completedBytes: this.#completed,
      totalBytes: this.#total,
      percent: this.#done
        ? 100
        : this.#total > 0
          ? Math.min(100, (this.#completed * 100) / this.#total)
          : undefined,
      bytesPerSecond,
      etaMs,
      layers: this.#layers.size,
      done: this.#done,
    };
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The progress records of a streamed `pull`, `push` or `create`, folded into totals: one
 * {@link TransferProgress} per record. Breaking out of the loop ends the stream (and the request).
 *
 * @example
 * for await (const progress of trackProgress(await ollama.pull({ model: 'llama3.2', stream: true }))) {
 *   console.log(`${progress.status} ${progress.percent?.toFixed(1) ?? '?'}%`);
 * }
 */
export async function* trackProgress(
  records: AsyncIterable<Partial<ProgressResponse>>,
  options: ProgressTrackerOptions = {},
): AsyncGenerator<TransferProgress, void, undefined> {
  const tracker = new ProgressTracker(options);
  for await (const record of records) yield tracker.update(record);
}
