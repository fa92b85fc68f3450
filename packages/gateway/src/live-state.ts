import type { Fleet } from '@bulwark/ollama/internal';
import { BulwarkError, ErrorCode, type Pipeline, type TimeoutError } from 'bulwark';
import { GATEWAY_DEFAULTS } from './defaults.js';

/** One upstream: its last probe, and what the fleet's outlier ejection thinks of it. */
export interface UpstreamState {
  url: string;
  /** `up` after a good probe, `down` after a failed one, `unknown` before the first. */
  state: 'up' | 'down' | 'unknown';
  /**
   * From the requests themselves: `ejected` after consecutive failures (no request goes to it
   * until `ejectedUntil`), `probing` once the ejection ended, until one request succeeds there.
   */
  health: 'healthy' | 'ejected' | 'probing';
  /** Epoch milliseconds the ejection ends, while ejected. */
  ejectedUntil: number | undefined;
  /** Failed requests in a row (connection failures, 5xx but 503). */
  consecutiveFailures: number;
  /** Epoch milliseconds of the last probe. */
  checkedAt: number | undefined;
  /** Why the last probe failed. */
  error: string | undefined;
  /** Attempts the gateway has in flight to it. */
  outstanding: number;
  /** Generations the gateway lets run at once per model (the bulkhead's limit), if bounded. */
  capacity: number | undefined;
}

/** A model resident on the upstream, from `/api/ps`. */
export interface WarmModel {
  name: string;
  /** When Ollama will unload it (ISO time), as `/api/ps` says. */
  expiresAt: string | undefined;
  sizeVram: number | undefined;
}

/** The JSON the live page and `/_bulwark/state` show. */
export interface LiveSnapshot {
  now: number;
  /** Requests the gateway is answering now. */
  inFlight: number;
  upstreams: UpstreamState[];
  /** Models warm on each upstream URL. */
  models: Record<string, WarmModel[]>;
  breakers: Array<{ key: string; state: string; retryAt: number | undefined }>;
  bulkheads: Array<{
    key: string;
    running: number;
    queued: number;
    rejected: number;
    limit: number;
    queue: number;
  }>;
  /** Over the last minute. */
  lastMinute: {
    requests: number;
    shed: Record<string, number>;
    /** Retries by the error code of the attempt that failed. */
    retries: Record<string, number>;
    /** Timeouts (retried or final) by phase. */
    timeouts: Record<string, number>;
    /** Time to first chunk to the client, in milliseconds. */
    timeToFirstChunkMs: { count: number; p50: number | undefined; p99: number | undefined };
  };
}

const MINUTE_MS = 60_000;

/** Events with a time, kept for one minute and at most `max` of them. */
class MinuteWindow<T> {
  readonly #entries: Array<{ at: number; value: T }> = [];
  constructor(readonly max: number) {}

  add(value: T, at = Date.now()): void {
    this.#entries.push({ at, value });
    if (this.#entries.length > this.max) this.#entries.shift();
  }

  values(now = Date.now()): T[] {
    while (this.#entries.length > 0 && (this.#entries[0]?.at ?? now) < now - MINUTE_MS) this.#entries.shift();
    return this.#entries.map((entry) => entry.value);
  }
}

function count(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index];
}

function timeoutPhase(error: unknown): string | undefined {
  return BulwarkError.is(error) && error.code === ErrorCode.Timeout
    ? (error as TimeoutError).phase
    : undefined;
}

interface Probe {
  state: UpstreamState['state'];
  checkedAt: number | undefined;
  error: string | undefined;
  models: WarmModel[];
}

/**
 * Everything the live page shows: each upstream's probe result, ejection and warm models, breakers and
 * bulkhead queues from the pipeline, and one-minute windows of retries, timeouts, sheds and time
 * to first chunk.
 */
export class LiveState {
  readonly #pipeline: Pipeline;
  readonly #fleet: Fleet;
  readonly #probes = new Map<string, Probe>();
  #inFlight = 0;
  readonly #requests = new MinuteWindow<string>(GATEWAY_DEFAULTS.maxSamples * 8);
  readonly #shed = new MinuteWindow<string>(GATEWAY_DEFAULTS.maxSamples);
  readonly #retries = new MinuteWindow<string>(GATEWAY_DEFAULTS.maxSamples);
  readonly #timeouts = new MinuteWindow<string>(GATEWAY_DEFAULTS.maxSamples);
  readonly #firstChunk = new MinuteWindow<number>(GATEWAY_DEFAULTS.maxSamples);
  readonly #subscriptions: Array<{ dispose(): void }> = [];

  constructor(pipeline: Pipeline, fleet: Fleet) {
    this.#pipeline = pipeline;
    this.#fleet = fleet;
    for (const host of fleet.hosts) {
      this.#probes.set(host.origin, { state: 'unknown', checkedAt: undefined, error: undefined, models: [] });
    }
    this.#subscriptions.push(
      pipeline.retry.onRetry(({ error }) => {
        this.#retries.add(BulwarkError.is(error) ? error.code : 'other');
        const phase = timeoutPhase(error);
        if (phase) this.#timeouts.add(phase);
      }),
      pipeline.retry.onGiveUp(({ error }) => {
        const phase = timeoutPhase(error);
        if (phase) this.#timeouts.add(phase);
      }),
    );
  }

  /** Listens to breaker changes (the page is pushed at once when one opens). */
  onBreakerChange(listener: () => void): { dispose(): void } {
    const subscription = this.#pipeline.breaker?.onStateChange(listener) ?? { dispose() {} };
    this.#subscriptions.push(subscription);
    return subscription;
  }

  begin(): void {
    this.#inFlight++;
    this.#requests.add('request');
  }

  end(): void {
    this.#inFlight--;
  }

  recordShed(reason: string): void {
    this.#shed.add(reason);
  }

  recordFirstChunk(milliseconds: number): void {
    this.#firstChunk.add(milliseconds);
  }

  /** Records a probe's result for the upstream at `url`. */
  setProbe(url: string, result: { ok: true; models: WarmModel[] } | { ok: false; error: string }): void {
    const probe = this.#probes.get(url);
    if (!probe) return;
    probe.checkedAt = Date.now();
    if (result.ok) {
      probe.state = 'up';
      probe.error = undefined;
      probe.models = result.models;
    } else {
      probe.state = 'down';
      probe.error = result.error;
      probe.models = [];
    }
  }

  /** Every upstream, in the order given. */
  upstreams(): UpstreamState[] {
    const capacity = this.#pipeline.bulkhead?.limit;
    return this.#fleet.snapshot().hosts.map((host) => {
      const probe = this.#probes.get(host.host);
      return {
        url: host.host,
        state: probe?.state ?? 'unknown',
        health: host.state,
        ejectedUntil: host.ejectedUntil,
        consecutiveFailures: host.consecutiveFailures,
        checkedAt: probe?.checkedAt,
        error: probe?.error,
        outstanding: host.outstanding,
        capacity,
      };
    });
  }

  snapshot(now = Date.now()): LiveSnapshot {
    const breaker = this.#pipeline.breaker;
    const breakers = breaker
      ? [...breaker.states()].map(([key, status]) => ({ key, state: status.state, retryAt: status.retryAt }))
      : [];
    const limit = this.#pipeline.bulkhead;
    const bulkheads = limit
      ? [...limit.entries()].map(([key, stats]) => ({
          key,
          ...stats,
          limit: limit.limit,
          queue: limit.queue,
        }))
      : [];
    const samples = this.#firstChunk.values(now).sort((a, b) => a - b);
    return {
      now,
      inFlight: this.#inFlight,
      upstreams: this.upstreams(),
      models: Object.fromEntries([...this.#probes].map(([url, probe]) => [url, [...probe.models]])),
      breakers,
      bulkheads,
      lastMinute: {
        requests: this.#requests.values(now).length,
        shed: count(this.#shed.values(now)),
        retries: count(this.#retries.values(now)),
        timeouts: count(this.#timeouts.values(now)),
        timeToFirstChunkMs: {
          count: samples.length,
          p50: percentile(samples, 0.5),
          p99: percentile(samples, 0.99),
        },
      },
    };
  }

  dispose(): void {
    for (const subscription of this.#subscriptions.splice(0)) subscription.dispose();
  }
}
