import { type Clock, createContext, TimeoutError } from '@bulwark/core';
import type { ModelStates } from '../model-states.js';
import type { Fleet, FleetHost } from './fleet.js';

/** Defaults of the automatic `/api/ps` refresh of a fleet's model states. */
export const DEFAULT_PS_REFRESH = {
  refreshMs: 10_000,
  timeoutMs: 2_000,
} as const;

export interface PsRefreshSettings {
  /** How old a host's view may get while calls flow before it is asked again; `Infinity`: never. */
  readonly refreshMs: number;
  /** The limit on one `/api/ps` request. */
  readonly timeoutMs: number;
}

interface HostRefresh {
  /** Clock time of the last refresh sent. */
  askedAt: number;
  inFlight: boolean;
}

/**
 * Keeps a fleet's model states close to the servers' own: as calls are routed, each host whose view
 * is older than `refreshMs` is asked `/api/ps` in the background, so a model loaded or evicted out
 * of band (another client, `ollama run`) counts for routing. Bounded: only while calls flow, at most
 * one request in flight per host, each under `timeoutMs`, never to an ejected host; a failed
 * request changes nothing. Routing never waits for it.
 */
export class PsRefresh {
  readonly settings: PsRefreshSettings;
  readonly #fleet: Fleet;
  readonly #states: ModelStates;
  readonly #clock: Clock;
  readonly #hosts = new Map<FleetHost, HostRefresh>();
  readonly #controllers = new Set<AbortController>();
  #closed = false;

  constructor(options: { fleet: Fleet; states: ModelStates; clock: Clock; settings: PsRefreshSettings }) {
    this.#fleet = options.fleet;
    this.#states = options.states;
    this.#clock = options.clock;
    this.settings = options.settings;
    for (const host of options.fleet.hosts)
      this.#hosts.set(host, { askedAt: Number.NEGATIVE_INFINITY, inFlight: false });
  }

  /** A call is being routed: refreshes every host whose view is stale. */
  due(): void {
    if (this.#closed || this.settings.refreshMs === Number.POSITIVE_INFINITY) return;
    const now = this.#clock.now();
    for (const [host, state] of this.#hosts) {
      if (state.inFlight || now - state.askedAt < this.settings.refreshMs) continue;
      if (this.#fleet.detector.state(host.health) === 'ejected') continue;
      state.inFlight = true;
      state.askedAt = now;
      void this.#refresh(host, now).finally(() => {
        state.inFlight = false;
      });
    }
  }

  /** Stops the requests in flight. */
  close(): void {
    this.#closed = true;
    for (const controller of this.#controllers) controller.abort();
  }

  async #refresh(host: FleetHost, askedAt: number): Promise<void> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const { timeoutMs } = this.settings;
    const timer = this.#clock.setTimeout(() => {
      controller.abort(
        new TimeoutError({ phase: 'attempt', timeoutMs, elapsedMs: timeoutMs, host: host.origin }),
      );
    }, timeoutMs);
    try {
      const context = createContext({
        signal: controller.signal,
        clock: this.#clock,
        attributes: { operation: 'ps', host: host.origin, provider: 'ollama' },
      }).with({ budgets: { connectMs: timeoutMs, headersMs: timeoutMs } });
      const answer = (await host.transport.json(context, 'GET', '/api/ps', undefined, undefined)) as {
        models?: unknown;
      } | null;
      if (Array.isArray(answer?.models)) this.#states.learnLoaded(host.origin, answer.models, askedAt);
    } catch {
      // A refresh that failed leaves the states as they were; calls tell the rest.
    } finally {
      timer.clear();
      this.#controllers.delete(controller);
    }
  }
}
