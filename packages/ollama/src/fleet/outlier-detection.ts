import {
  BulwarkError,
  type Clock,
  ConnectionError,
  ResponseError,
  StreamError,
  TimeoutError,
} from '@bulwark/core';

/** Defaults of outlier ejection, as Envoy's outlier detection. */
export const DEFAULT_OUTLIER_DETECTION = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
} as const;

export interface OutlierDetectionSettings {
  readonly consecutiveFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

/** What one attempt on a host says about the host's health. */
export type HostVerdict = 'failure' | 'success' | 'neutral';

/**
 * How an attempt's outcome counts for its host: connection failures (refused, reset, closed, a
 * connect timeout) and server errors count against it; a 503 (busy), a caller's cancel, a wait
 * on a model load and any other timeout do not count either way; any other answer is a success.
 */
export function verdictOf(error: unknown, callerSignal: AbortSignal | undefined): HostVerdict {
  if (error === undefined) return 'success';
  if (callerSignal?.aborted) return 'neutral';
  if (error instanceof ConnectionError) return 'failure';
  if (error instanceof TimeoutError) return error.phase === 'connect' ? 'failure' : 'neutral';
  if (error instanceof ResponseError) {
    if (error.status === 503) return 'neutral';
    return error.status >= 500 ? 'failure' : 'success';
  }
  if (error instanceof StreamError) return 'failure';
  return BulwarkError.is(error) ? 'success' : 'neutral';
}

/** The health of one host as the outlier detector sees it. */
export interface HostHealth {
  consecutiveFailures: number;
  /** Clock time the ejection ends; `-Infinity` when not ejected. */
  ejectedUntil: number;
  /** The ejection multiplier: times ejected, less one per ejection time spent healthy since. */
  ejections: number;
  /** Clock time the host last came back (its probe succeeded). */
  returnedAt: number;
  /** A probe call is in flight (the ejection ended; one call tells whether the host is back). */
  probing: boolean;
}

export function healthy(): HostHealth {
  return {
    consecutiveFailures: 0,
    ejectedUntil: Number.NEGATIVE_INFINITY,
    ejections: 0,
    returnedAt: Number.NEGATIVE_INFINITY,
    probing: false,
  };
}

/**
 * Outlier ejection as Envoy does it: `consecutiveFailures` failures in a row eject a host for
 * `baseEjectionMs` × the number of times it was ejected (capped at `maxEjectionMs`); at most
 * `maxEjectionPercent` of the hosts are ejected at once (always at least one may be). Unlike Envoy,
 * a host whose ejection ended gets one probe call before it takes traffic again: success returns it,
 * failure ejects it again for longer.
 */
export class OutlierDetector {
  readonly settings: OutlierDetectionSettings;
  readonly #clock: Clock;
  readonly #all: readonly HostHealth[];

  constructor(settings: OutlierDetectionSettings, clock: Clock, all: readonly HostHealth[]) {
    this.settings = settings;
    this.#clock = clock;
    this.#all = all;
  }

  /** `'ejected'` during an ejection, `'probe'` once it ended and until a probe settles, else `'healthy'`. */
  state(health: HostHealth): 'healthy' | 'ejected' | 'probe' {
    if (health.ejectedUntil === Number.NEGATIVE_INFINITY) return 'healthy';
    return this.#clock.now() < health.ejectedUntil ? 'ejected' : 'probe';
  }

  /** Hosts ejected (or awaiting their probe) now. */
  ejectedCount(): number {
    let count = 0;
    for (const health of this.#all) if (health.ejectedUntil !== Number.NEGATIVE_INFINITY) count++;
    return count;
  }

  /** Records an attempt's verdict; returns true when it ejected the host. */
  record(health: HostHealth, verdict: HostVerdict, wasProbe: boolean): boolean {
    if (wasProbe) health.probing = false;
    if (verdict === 'neutral') return false;
    if (verdict === 'success') {
      health.consecutiveFailures = 0;
      if (wasProbe && health.ejectedUntil !== Number.NEGATIVE_INFINITY) {
        health.ejectedUntil = Number.NEGATIVE_INFINITY;
        health.returnedAt = this.#clock.now();
      }
      return false;
    }
    health.consecutiveFailures++;
    if (wasProbe) return this.#eject(health);
    if (health.ejectedUntil !== Number.NEGATIVE_INFINITY) return false;
    if (health.consecutiveFailures < this.settings.consecutiveFailures) return false;
    const allowed = Math.max(1, Math.floor((this.#all.length * this.settings.maxEjectionPercent) / 100));
    if (this.ejectedCount() >= allowed) return false;
    return this.#eject(health);
  }

  #eject(health: HostHealth): boolean {
    const now = this.#clock.now();
    const { baseEjectionMs, maxEjectionMs } = this.settings;
    // The multiplier decays by one for each base ejection time the host stayed healthy.
    const healthyMs = health.returnedAt === Number.NEGATIVE_INFINITY ? 0 : now - health.returnedAt;
    const decay = Math.floor(healthyMs / baseEjectionMs);
    health.ejections = Math.max(0, health.ejections - decay) + 1;
    health.ejectedUntil = now + Math.min(maxEjectionMs, baseEjectionMs * health.ejections);
    health.consecutiveFailures = 0;
    return true;
  }
}
