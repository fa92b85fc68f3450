import { type Clock, ResponseError } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import type { ModelLoads } from '../model-loads.js';
import { type ModelStates, normalizeModel } from '../model-states.js';
import type { OllamaTransport } from '../transport.js';
import type { FleetHostStatus, FleetSnapshot } from '../types.js';
import { HostLatency } from './host-latency.js';
import {
  type HostHealth,
  healthy,
  type OutlierDetectionSettings,
  OutlierDetector,
  verdictOf,
} from './outlier-detection.js';

/** One host of the fleet: its transport, its loads, its counters. */
export interface FleetHost {
  readonly origin: string;
  readonly transport: OllamaTransport;
  readonly loads: ModelLoads | undefined;
  readonly weight: number;
  /** Requests it runs at once (its `OLLAMA_NUM_PARALLEL`). */
  readonly capacity: number;
  /** Attempts of this client on it now. */
  outstanding: number;
  readonly health: HostHealth;
  readonly latency: HostLatency;
}

/** An attempt's hold on a host, released once with the attempt's outcome. */
export interface HostLease {
  readonly host: FleetHost;
  /** The attempt's first chunk arrived. */
  firstChunk(): void;
  release(error: unknown, callerSignal: AbortSignal | undefined): void;
  /** Gives the host back unused (a policy refused the attempt before it was sent): no verdict. */
  cancel(): void;
}

const missingKey = (host: FleetHost, model: string) => `${host.origin} ${normalizeModel(model)}`;

/**
 * The hosts of one client and the choice of a host for each attempt, in this order: a host where
 * the model is warm with a free slot; else the least loaded warm host (power of two choices); else
 * the host already loading it; else the host that can load it soonest, spreading models across
 * hosts. Ejected hosts are skipped; a host whose ejection ended takes one probe call. Hosts that
 * already failed this call are avoided while others remain (failover before commit).
 */
export class Fleet {
  readonly hosts: readonly FleetHost[];
  readonly detector: OutlierDetector;
  readonly #states: ModelStates | undefined;
  readonly #random: () => number;
  readonly #clock: Clock;
  /** (host, model) pairs that answered 404: the host does not have the model. */
  readonly #missing = new LruMap<string, true>(1_000);
  /** Told when a host was ejected (shared state publishes it). */
  onEjection: ((host: FleetHost) => void) | undefined;

  constructor(options: {
    hosts: readonly Omit<FleetHost, 'outstanding' | 'health' | 'latency'>[];
    states: ModelStates | undefined;
    outlierDetection: OutlierDetectionSettings;
    clock: Clock;
    random?: () => number;
  }) {
    this.hosts = options.hosts.map((host) => ({
      ...host,
      outstanding: 0,
      health: healthy(),
      latency: new HostLatency(),
    }));
    this.#states = options.states;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.detector = new OutlierDetector(
      options.outlierDetection,
      options.clock,
      this.hosts.map((host) => host.health),
    );
  }

  /**
   * Takes a host for one attempt of a call to `model`: `pinned` when given, else the one routing
   * picks, avoiding the hosts in `avoid` when it can.
   */
  acquire(model: string | undefined, avoid: ReadonlySet<FleetHost>, pinned?: FleetHost): HostLease {
    const host = pinned ?? this.pick(model, avoid);
    const probe = this.detector.state(host.health) === 'probe' && !host.health.probing;
    if (probe) host.health.probing = true;
    // Only an attempt that found a free slot measures the host rather than this client's queue.
    const measures = host.outstanding < host.capacity;
    const acquiredAt = this.#clock.now();
    host.outstanding++;
    let released = false;
    let firstChunkAt: number | undefined;
    return {
      host,
      firstChunk: () => {
        if (firstChunkAt !== undefined || released) return;
        firstChunkAt = this.#clock.now();
        if (measures) host.latency.firstChunk(firstChunkAt - acquiredAt);
      },
      release: (error, callerSignal) => {
        if (released) return;
        released = true;
        host.outstanding--;
        const verdict = verdictOf(error, callerSignal);
        if (verdict !== 'neutral') host.latency.outcome(verdict === 'failure');
        if (measures && error === undefined) host.latency.attempt(this.#clock.now() - acquiredAt);
        if (model !== undefined) {
          if (error instanceof ResponseError && error.status === 404)
            this.#missing.set(missingKey(host, model), true);
          else if (error === undefined) this.#missing.delete(missingKey(host, model));
        }
        if (this.detector.record(host.health, verdict, probe)) this.onEjection?.(host);
      },
      cancel: () => {
        if (released) return;
        released = true;
        host.outstanding--;
        if (probe) host.health.probing = false;
      },
    };
  }

  pick(model: string | undefined, avoid: ReadonlySet<FleetHost>): FleetHost {
    const hosts = this.hosts;
    if (hosts.length === 1) return hosts[0] as FleetHost;
    let candidates = hosts.filter((host) => !avoid.has(host) && this.#available(host));
    if (candidates.length === 0) candidates = hosts.filter((host) => this.#available(host));
    if (model !== undefined) {
      // Hosts that answered 404 for the model go last: another host may have it.
      const having = candidates.filter((host) => !this.#missing.has(missingKey(host, model)));
      if (having.length > 0) candidates = having;
    }
    if (candidates.length === 0) {
      // Every host is ejected: the one whose ejection ends first.
      return hosts.reduce((best, host) =>
        host.health.ejectedUntil < best.health.ejectedUntil ? host : best,
      );
    }
    // A host back from ejection proves itself with one call before anything else.
    const probe = candidates.find((host) => this.detector.state(host.health) === 'probe');
    if (probe) return probe;
    const states = this.#states;
    if (model === undefined || !states) return this.#leastLoaded(candidates);
    const warm: FleetHost[] = [];
    const loading: FleetHost[] = [];
    for (const host of candidates) {
      const entry = states.peek(host.origin, model);
      if (!entry) continue;
      if (states.isLoading(entry)) loading.push(host);
      else if (states.isWarm(entry)) warm.push(host);
    }
    if (warm.length > 0) {
      const free = warm.filter((host) => host.outstanding < host.capacity);
      return this.#soonestFirstChunk(free.length > 0 ? free : warm);
    }
    if (loading.length > 0) return this.#leastLoaded(loading);
    return this.#soonestLoad(candidates, states);
  }

  /**
   * For a hedge: a host other than `except`, healthy, where `model` is warm, soonest to a first
   * chunk, and expected to give it within `withinMs` (a hedge that would wait in a queue longer
   * than its primary already waited only adds to the queue).
   */
  pickWarm(model: string, except: FleetHost, withinMs: number): FleetHost | undefined {
    const states = this.#states;
    if (!states) return undefined;
    const warm = this.hosts.filter((host) => {
      if (host === except || this.detector.state(host.health) !== 'healthy') return false;
      const entry = states.peek(host.origin, model);
      return entry !== undefined && states.isWarm(entry);
    });
    if (warm.length === 0) return undefined;
    const target = this.#soonestFirstChunk(warm);
    return target.latency.expectedMs(target.outstanding, target.capacity, this.#referenceMs()) <= withinMs
      ? target
      : undefined;
  }

  /** The fleet's best time to first chunk; a host not measured yet counts this (1 ms before any). */
  #referenceMs(): number {
    let referenceMs = Number.POSITIVE_INFINITY;
    for (const host of this.hosts) {
      const ms = host.latency.firstChunkMs;
      if (ms !== undefined && ms < referenceMs) referenceMs = ms;
    }
    return referenceMs === Number.POSITIVE_INFINITY ? 1 : referenceMs;
  }

  /**
   * The host expected to give the first chunk soonest ({@link HostLatency.expectedMs}: its queue,
   * its own speed, its failures); hosts within 10 % of the best are taken as equal and the least
   * loaded of them wins (power of two choices).
   */
  #soonestFirstChunk(hosts: readonly FleetHost[]): FleetHost {
    if (hosts.length === 1) return hosts[0] as FleetHost;
    const referenceMs = this.#referenceMs();
    let best = Number.POSITIVE_INFINITY;
    const costs = hosts.map((host) => {
      const cost = host.latency.expectedMs(host.outstanding, host.capacity, referenceMs);
      if (cost < best) best = cost;
      return cost;
    });
    const near = hosts.filter((_, index) => (costs[index] as number) <= best * 1.1);
    return this.#leastLoaded(near);
  }

  /** Not ejected, and not a host awaiting its probe while the probe is out. */
  #available(host: FleetHost): boolean {
    const state = this.detector.state(host.health);
    return state === 'healthy' || (state === 'probe' && !host.health.probing);
  }

  /** Power of two choices: two hosts drawn at random, the one with fewer outstanding per weight. */
  #leastLoaded(hosts: readonly FleetHost[]): FleetHost {
    if (hosts.length === 1) return hosts[0] as FleetHost;
    const first = Math.floor(this.#random() * hosts.length);
    let second = Math.floor(this.#random() * (hosts.length - 1));
    if (second >= first) second++;
    const a = hosts[first] as FleetHost;
    const b = hosts[second] as FleetHost;
    return load(b) < load(a) ? b : a;
  }

  /**
   * Where a cold model loads soonest: a host loading nothing (Ollama loads one model at a time),
   * then the host holding the fewest models (spreading models rather than evicting one host's),
   * then the least loaded, then the heaviest weight.
   */
  #soonestLoad(hosts: readonly FleetHost[], states: ModelStates): FleetHost {
    const busy = new Map<string, { loading: boolean; models: number }>();
    for (const status of states.snapshot()) {
      const counts = busy.get(status.host) ?? { loading: false, models: 0 };
      if (status.state === 'loading') counts.loading = true;
      if (status.state !== 'cold') counts.models++;
      busy.set(status.host, counts);
    }
    const score = (host: FleetHost): number[] => {
      const counts = busy.get(host.origin);
      return [counts?.loading ? 1 : 0, counts?.models ?? 0, load(host), -host.weight];
    };
    let best = hosts[0] as FleetHost;
    let bestScore = score(best);
    for (const host of hosts.slice(1)) {
      const candidate = score(host);
      for (let index = 0; index < candidate.length; index++) {
        const difference = (candidate[index] as number) - (bestScore[index] as number);
        if (difference === 0) continue;
        if (difference < 0) {
          best = host;
          bestScore = candidate;
        }
        break;
      }
    }
    return best;
  }

  /** A read-only picture of the fleet. */
  snapshot(): Omit<FleetSnapshot, 'hedges'> {
    const models = this.#states?.snapshot() ?? [];
    const hosts: FleetHostStatus[] = this.hosts.map((host) => {
      const state = this.detector.state(host.health);
      return Object.freeze({
        host: host.origin,
        weight: host.weight,
        capacity: host.capacity,
        outstanding: host.outstanding,
        state: state === 'probe' ? 'probing' : state,
        ejectedUntil: state === 'ejected' ? host.health.ejectedUntil : undefined,
        ejections: host.health.ejections,
        consecutiveFailures: host.health.consecutiveFailures,
        warmModels: Object.freeze(
          models
            .filter((model) => model.host === host.origin && model.state === 'warm')
            .map((model) => model.model),
        ),
        loadingModels: Object.freeze(
          models
            .filter((model) => model.host === host.origin && model.state === 'loading')
            .map((model) => model.model),
        ),
      });
    });
    return Object.freeze({
      hosts: Object.freeze(hosts),
      ejected: hosts.filter((host) => host.state !== 'healthy').length,
      outstanding: hosts.reduce((sum, host) => sum + host.outstanding, 0),
    });
  }
}

function load(host: FleetHost): number {
  return host.outstanding / host.weight;
}
