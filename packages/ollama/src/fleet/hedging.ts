import type { Clock, Context, TimerHandle } from '@bulwark/core';
import { type Cancel, cancelOf, LruMap, withCancel } from '@bulwark/core/internal';
import { normalizeModel } from '../model-states.js';
import type { FleetHost, HostLease } from './fleet.js';

type Json = Record<string, unknown>;

/** Defaults of hedging. */
export const DEFAULT_HEDGE = {
  percentile: 95,
  maxShare: 0.1,
  minSamples: 20,
  samples: 100,
} as const;

export interface HedgeSettings {
  /** A fixed delay; without it, the learned percentile. */
  readonly delayMs: number | undefined;
  readonly percentile: number;
  readonly maxShare: number;
  readonly minSamples: number;
}

/** Why the slower of two hedged requests was stopped. */
export class HedgeLost extends Error {
  constructor() {
    super('Another host answered this request first');
    this.name = 'AbortError';
  }
}

/**
 * When to hedge: a fixed delay, or a percentile of the recent times to first chunk of the model;
 * and how many hedges the client may still send (at most `maxShare` of the attempts it hedges for).
 */
export class Hedging {
  readonly settings: HedgeSettings;
  readonly #samples = new LruMap<string, number[]>(1_000);
  #attempts = 0;
  #hedges = 0;

  constructor(settings: HedgeSettings) {
    this.settings = settings;
  }

  /** The delay after which an attempt to `model` is hedged, or `undefined` (not enough samples yet). */
  delayFor(model: string): number | undefined {
    if (this.settings.delayMs !== undefined) return this.settings.delayMs;
    const samples = this.#samples.peek(normalizeModel(model));
    if (!samples || samples.length < this.settings.minSamples) return undefined;
    const sorted = [...samples].sort((a, b) => a - b);
    const index = Math.min(
      sorted.length - 1,
      Math.ceil((this.settings.percentile / 100) * sorted.length) - 1,
    );
    return sorted[Math.max(0, index)];
  }

  /** A time to first chunk of `model`. */
  sample(model: string, ms: number): void {
    const samples = this.#samples.getOrCreate(normalizeModel(model), () => []);
    samples.push(ms);
    if (samples.length > DEFAULT_HEDGE.samples) samples.shift();
  }

  /** An attempt that may be hedged started. */
  counted(): void {
    this.#attempts++;
  }

  /** Whether the share allows one more hedge now. */
  allows(): boolean {
    return this.#hedges + 1 <= this.settings.maxShare * this.#attempts;
  }

  /** Counts one hedge sent. */
  take(): void {
    this.#hedges++;
  }

  /** Attempts counted and hedges sent. */
  counts(): { attempts: number; hedges: number } {
    return { attempts: this.#attempts, hedges: this.#hedges };
  }
}

interface Leg {
  readonly linked: Cancel;
  readonly startedAt: number;
  failed: boolean;
  error: unknown;
}

/**
 * One attempt sent to `primary` and, when no record arrived within `delayMs`, to a second host
 * (`hedge()` takes it, or returns `undefined` when none may). The first leg to deliver a record
 * wins: only its records reach `deliver`, and the other leg is aborted at once. A leg that fails
 * before any record leaves the race to the other; when every leg failed, the first one's error is
 * the attempt's.
 */
export function hedged(options: {
  context: Context;
  clock: Clock;
  delayMs: number;
  send(context: Context, host: FleetHost, deliver: (record: Json) => void): Promise<Json>;
  primary: FleetHost;
  hedge(): HostLease | undefined | Promise<HostLease | undefined>;
  deliver(record: Json): void;
  /** The winner's time to first record. */
  onFirst(ms: number): void;
  callerSignal: AbortSignal | undefined;
}): Promise<Json> {
  const { context, clock } = options;
  return new Promise<Json>((resolve, reject) => {
    const legs: Leg[] = [];
    let winner: Leg | undefined;
    let timer: TimerHandle | undefined;
    const win = (leg: Leg) => {
      winner = leg;
      timer?.clear();
      timer = undefined;
      for (const other of legs) if (other !== leg) other.linked.abort(new HedgeLost());
    };
    const start = (host: FleetHost, lease: HostLease | undefined) => {
      const linked = cancelOf(context).link();
      const leg: Leg = { linked, startedAt: clock.now(), failed: false, error: undefined };
      legs.push(leg);
      const deliver = (record: Json) => {
        if (winner === undefined) {
          win(leg);
          options.onFirst(clock.now() - leg.startedAt);
        }
        if (winner === leg) options.deliver(record);
      };
      const legContext = withCancel(context, linked, { attributes: { host: host.origin } });
      options.send(legContext, host, deliver).then(
        (final) => {
          linked.dispose();
          lease?.release(undefined, options.callerSignal);
          if (winner === undefined) win(leg);
          if (winner === leg) resolve(final);
        },
        (error: unknown) => {
          linked.dispose();
          lease?.release(error, options.callerSignal);
          leg.failed = true;
          leg.error = error;
          if (winner === leg) reject(error);
          else if (winner === undefined && legs.every((each) => each.failed)) {
            // No hedge will start now: the attempt fails (and may fail over) at once.
            timer?.clear();
            timer = undefined;
            reject((legs[0] as Leg).error);
          }
        },
      );
    };
    start(options.primary, undefined);
    const over = () => winner !== undefined || legs.every((leg) => leg.failed);
    timer = clock.setTimeout(() => {
      timer = undefined;
      if (over()) return;
      const lease = options.hedge();
      if (lease === undefined || !('then' in lease)) {
        if (lease) start(lease.host, lease);
        return;
      }
      // A retry budget shared through a store answers later: the race may be over by then.
      lease.then(
        (taken) => {
          if (!taken) return;
          if (over()) taken.cancel();
          else start(taken.host, taken);
        },
        () => {},
      );
    }, options.delayMs);
  });
}
