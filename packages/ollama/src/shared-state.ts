import { randomUUID } from 'node:crypto';
import type { Clock } from '@bulwark/core';
import type { Fleet, FleetHost } from './fleet/fleet.js';
import { type ModelEntry, type ModelStates, normalizeModel } from './model-states.js';
import type { SharedHostState, SharedStateStore } from './types.js';

/** How long a load claim lives without renewal: a process that dies mid-load frees it this soon. */
export const SHARED_LOAD_LEASE_MS = 15_000;
/** How often a process waiting on another's load asks the store again. */
export const SHARED_LOAD_POLL_MS = 100;
/** A warm time that moved by less than this is not written again. */
const REPUBLISH_MS = 1_000;

/** What a load found before it sent anything. */
export type LoadTurn =
  /** This process loads; `end` gives the claim back (and says how long the model is warm). */
  | { readonly state: 'claimed'; end(warmMs: number): void }
  /** Another process loaded it meanwhile: warm for `warmMs`, nothing to send. */
  | { readonly state: 'warm'; readonly warmMs: number }
  /** The store did not answer: this process loads on its own. */
  | { readonly state: 'unavailable' };

/**
 * The bridge between a client's own model and host state and a {@link SharedStateStore}: reads
 * the store before an attempt is routed and merges what other processes saw; writes what this
 * process sees (a model's warm time, an ejection); claims each load so that one process loads a
 * model on a host while the others wait for it. The store is advisory: when it does not answer,
 * the client's own state decides, as without it.
 */
export class SharedState {
  readonly #store: SharedStateStore;
  readonly #states: ModelStates | undefined;
  readonly #fleet: Fleet;
  readonly #fleetClock: Clock;
  readonly #origins: readonly string[];
  /** Reads in flight per model: concurrent calls share one. */
  readonly #reads = new Map<string, Promise<void>>();

  constructor(options: {
    store: SharedStateStore;
    states: ModelStates | undefined;
    fleet: Fleet;
    fleetClock: Clock;
  }) {
    this.#store = options.store;
    this.#states = options.states;
    this.#fleet = options.fleet;
    this.#fleetClock = options.fleetClock;
    this.#origins = this.#fleet.hosts.map((host) => host.origin);
    if (this.#states) this.#states.onChange = (entry) => this.#published(entry);
    this.#fleet.onEjection = (host) => this.#ejected(host);
  }

  /** Before routing an attempt at `model`: merges what the store knows. Never rejects. */
  sync(model: string | undefined): Promise<void> {
    const key = model === undefined ? '' : normalizeModel(model);
    const running = this.#reads.get(key);
    if (running) return running;
    const read = this.#store
      .read(this.#origins, model === undefined ? undefined : key)
      .then(
        (view) => {
          if (view) this.#merge(view, model);
        },
        () => {},
      )
      .finally(() => this.#reads.delete(key));
    this.#reads.set(key, read);
    return read;
  }

  #merge(view: readonly SharedHostState[], model: string | undefined): void {
    const states = this.#states;
    const fleetNow = this.#fleetClock.now();
    for (const shared of view) {
      const host = this.#fleet.hosts.find((candidate) => candidate.origin === shared.host);
      if (!host) continue;
      if (shared.ejectedMs > 0) {
        const health = host.health;
        const until = fleetNow + shared.ejectedMs;
        if (!health.probing && health.ejectedUntil < until) {
          health.ejectedUntil = until;
          health.ejections = Math.max(1, health.ejections);
          health.consecutiveFailures = 0;
        }
      }
      if (!states || model === undefined) continue;
      const entry =
        shared.warmMs > 0 || shared.loading
          ? states.entry(host.origin, model)
          : states.peek(host.origin, model);
      if (!entry) continue;
      entry.loadingElsewhere = shared.loading && entry.load === undefined;
      if (shared.warmMs > 0 && entry.load === undefined) {
        const until =
          shared.warmMs === Number.POSITIVE_INFINITY ? shared.warmMs : states.clock.now() + shared.warmMs;
        if (until > entry.warmUntil) {
          entry.warmUntil = until;
          entry.sharedUntil = until;
        }
      }
    }
  }

  /**
   * Before a load of `entry` is sent: claims it, or waits while another process holds the claim
   * (asking again every {@link SHARED_LOAD_POLL_MS}) until the model is warm or the claim is free.
   * `signal` is the load's own (its budget, the client closing).
   */
  async turn(entry: ModelEntry, signal: AbortSignal): Promise<LoadTurn> {
    const model = normalizeModel(entry.model);
    const id = randomUUID();
    for (;;) {
      signal.throwIfAborted();
      const claim = await this.#store
        .claimLoad(entry.host, model, id, SHARED_LOAD_LEASE_MS)
        .catch(() => undefined);
      if (claim === undefined) return { state: 'unavailable' };
      if (claim.state === 'warm') {
        entry.loadingElsewhere = false;
        return { state: 'warm', warmMs: claim.warmMs };
      }
      if (claim.state === 'claimed') {
        entry.loadingElsewhere = false;
        return { state: 'claimed', end: this.#holdClaim(entry, model, id) };
      }
      entry.loadingElsewhere = true;
      await pause(SHARED_LOAD_POLL_MS, signal);
    }
  }

  /** Renews a load claim while the load runs; returns what ends it. */
  #holdClaim(entry: ModelEntry, model: string, id: string): (warmMs: number) => void {
    const renewal = setInterval(() => {
      void this.#store.claimLoad(entry.host, model, id, SHARED_LOAD_LEASE_MS).catch(() => {});
    }, SHARED_LOAD_LEASE_MS / 3);
    renewal.unref();
    return (warmMs) => {
      clearInterval(renewal);
      if (warmMs > 0) {
        entry.sharedUntil =
          warmMs === Number.POSITIVE_INFINITY ? warmMs : (this.#states?.clock.now() ?? 0) + warmMs;
      }
      void this.#store.endLoad(entry.host, model, id, warmMs).catch(() => {});
    };
  }

  /** The warm time of `entry` changed here: written unless the store already has about that. */
  #published(entry: ModelEntry): void {
    const states = this.#states;
    if (!states || entry.load !== undefined) return;
    const until = entry.warmUntil;
    const before = entry.sharedUntil;
    if (until === before) return;
    if (Number.isFinite(until) && Number.isFinite(before) && Math.abs(until - before) < REPUBLISH_MS) return;
    entry.sharedUntil = until;
    const warmMs = until === Number.POSITIVE_INFINITY ? until : Math.max(0, until - states.clock.now());
    void this.#store.setWarm(entry.host, normalizeModel(entry.model), warmMs).catch(() => {});
  }

  #ejected(host: FleetHost): void {
    const ejectedMs = host.health.ejectedUntil - this.#fleetClock.now();
    if (ejectedMs > 0) void this.#store.setEjected(host.origin, ejectedMs).catch(() => {});
  }
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref();
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
