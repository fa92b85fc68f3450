import {
  BasePolicy,
  CircuitOpenError,
  type Clock,
  type Context,
  Emitter,
  type Event,
  InvalidOptionError,
  type KeyOption,
  type ModelLoadWait,
  type ObservablePolicy,
  realClock,
} from '@bulwark/core';
import {
  anyOf,
  clockOption,
  duration,
  func,
  hostAttribute,
  integer,
  keyOption,
  LruMap,
  object,
  oneOf,
  resolveKey,
  validateOptions,
} from '@bulwark/core/internal';
import { CircuitState as CockatielState, ConsecutiveBreaker, type IBreaker } from 'cockatiel';
import { classifyFailure } from './classify.js';
import { SamplingWindowBreaker } from './sampling-breaker.js';
import type {
  BreakerProbe,
  BreakerSnapshot,
  BreakerStore,
  CircuitBreakerOptions,
  CircuitBreakerStatus,
  CircuitOutcomeEvent,
  CircuitRejectedEvent,
  CircuitState,
  CircuitStateChangeEvent,
  Outcome,
} from './types.js';

export const DEFAULT_HALF_OPEN_AFTER_MS = 30_000;
export const DEFAULT_CONSECUTIVE_FAILURES = 5;

interface Breaker {
  state: CircuitState;
  counter: IBreaker;
  retryAt: number | undefined;
  probes: number;
  /** The failure that last opened the breaker: the `cause` of its refusals. */
  openedBy: unknown;
}

function copyBreaker(template: IBreaker): IBreaker {
  if (template instanceof SamplingWindowBreaker) return template.clone();
  const copy = Object.assign(Object.create(Object.getPrototypeOf(template)), template) as IBreaker;
  copy.state = structuredClone(template.state);
  return copy;
}

/**
 * A keyed circuit breaker. It counts failures with a cockatiel `IBreaker` and owns the state
 * machine: while open every call fails at once; after `halfOpenAfterMs` a bounded number of probes
 * go through and every other call still fails at once, never waiting for a probe that may be a
 * minutes-long generation.
 */
export class CircuitBreakerPolicy
  extends BasePolicy
  implements Extract<ObservablePolicy, { kind: 'circuit-breaker' }>
{
  readonly halfOpenAfterMs: number;
  readonly halfOpenProbes: number;
  readonly #key: KeyOption | undefined;
  readonly #makeCounter: () => IBreaker;
  readonly #slowCallMs: number | undefined;
  readonly #countOverload: boolean;
  readonly #failureOn: ((error: unknown, context: Context) => boolean) | undefined;
  readonly #clock: Clock;
  readonly #store: BreakerStore | undefined;
  readonly #breakers: LruMap<string, Breaker>;
  readonly #stateChange = new Emitter<CircuitStateChangeEvent>();
  readonly #reject = new Emitter<CircuitRejectedEvent>();
  readonly #outcome = new Emitter<CircuitOutcomeEvent>();
  /** What telemetry knows this policy by. */
  readonly kind = 'circuit-breaker' as const;
  /** A breaker changed state. */
  readonly onStateChange: Event<CircuitStateChangeEvent> = this.#stateChange.event;
  /** A call was refused without running, with the `CircuitOpenError` it rejects with. */
  readonly onRejected: Event<CircuitRejectedEvent> = this.#reject.event;
  /** @deprecated Use `onRejected`. */
  readonly onReject: Event<CircuitRejectedEvent> = this.#reject.event;
  /** A call ran and was counted (`success`, `failure`) or not (`ignore`). */
  readonly onOutcome = this.#outcome.event;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    validateOptions('circuitBreaker()', options, {
      key: keyOption,
      breaker: anyOf(func, object),
      halfOpenAfterMs: duration(0),
      halfOpenProbes: integer(1),
      slowCallMs: duration(0),
      countOverload: oneOf(true, false),
      failureOn: func,
      maxKeys: integer(1),
      clock: clockOption,
      store: object,
    });
    const store = options.store;
    if (store !== undefined) {
      for (const method of ['admit', 'open', 'close', 'releaseProbe'] as const) {
        if (typeof store[method] !== 'function') {
          throw new InvalidOptionError(
            `circuitBreaker(): option "store" must have a ${method}() method`,
            'store',
          );
        }
      }
    }
    this.#store = store;
    const breaker = options.breaker;
    if (breaker !== undefined && typeof breaker !== 'function') {
      try {
        copyBreaker(breaker);
      } catch {
        throw new InvalidOptionError(
          `circuitBreaker(): option "breaker" (${breaker.constructor?.name ?? 'object'}) cannot be copied for each key; pass a factory such as () => new ${breaker.constructor?.name ?? 'YourBreaker'}(…)`,
          'breaker',
        );
      }
    }
    this.#makeCounter =
      breaker === undefined
        ? () => new ConsecutiveBreaker(DEFAULT_CONSECUTIVE_FAILURES)
        : typeof breaker === 'function'
          ? breaker
          : () => copyBreaker(breaker);
    this.#key = options.key;
    this.halfOpenAfterMs = options.halfOpenAfterMs ?? DEFAULT_HALF_OPEN_AFTER_MS;
    this.halfOpenProbes = options.halfOpenProbes ?? 1;
    this.#slowCallMs = options.slowCallMs;
    this.#countOverload = options.countOverload ?? false;
    this.#failureOn = options.failureOn;
    this.#clock = options.clock ?? realClock;
    this.#breakers = new LruMap(options.maxKeys ?? 1_000, {
      canEvict: (b) => b.state === 'closed' && b.probes === 0,
    });
  }

  #breaker(key: string): Breaker {
    return this.#breakers.getOrCreate(key, () => ({
      state: 'closed',
      counter: this.#makeCounter(),
      retryAt: undefined,
      probes: 0,
      openedBy: undefined,
    }));
  }

  #move(key: string, breaker: Breaker, to: CircuitState, reason: unknown): void {
    const from = breaker.state;
    if (from === to) return;
    breaker.state = to;
    breaker.retryAt = to === 'open' ? this.#clock.now() + this.halfOpenAfterMs : undefined;
    if (to === 'open') breaker.openedBy = reason;
    else if (to === 'closed') breaker.openedBy = undefined;
    this.#stateChange.emit({ key, from, to, reason });
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const key = resolveKey(this.#key, context);
    const breaker = this.#breaker(key);
    if (this.#store) return this.#runWithStore(this.#store, key, breaker, context, next);
    return this.#runLocal(key, breaker, context, next);
  }

  async #runWithStore<T>(
    store: BreakerStore,
    key: string,
    breaker: Breaker,
    context: Context,
    next: (context: Context) => Promise<T>,
  ): Promise<T> {
    const admission = await store.admit(key, { halfOpenProbes: this.halfOpenProbes });
    // The store cannot answer: this process's own state decides, as without a store.
    if (admission === undefined) return this.#runLocal(key, breaker, context, next);
    if (admission.state === 'closed') {
      if (breaker.state !== 'closed') {
        breaker.counter = this.#makeCounter();
        this.#move(key, breaker, 'closed', 'closed in the shared store');
      }
      return this.#call(key, breaker, false, context, next);
    }
    if (admission.state === 'open') {
      this.#move(key, breaker, 'open', 'opened in the shared store');
      breaker.retryAt = this.#clock.now() + admission.retryAfterMs;
    } else {
      this.#move(key, breaker, 'half-open', 'half-open period started');
      if (admission.probe !== undefined) {
        breaker.probes++;
        return this.#call(key, breaker, true, context, next, admission.probe);
      }
    }
    const state = breaker.state === 'open' ? 'open' : 'half-open';
    const error = new CircuitOpenError({
      key,
      state,
      retryAt: state === 'open' ? breaker.retryAt : undefined,
      now: this.#clock.now(),
      host: hostAttribute(context.attributes),
    });
    if (this.#reject.size > 0) this.#reject.emit({ key, state, error, context });
    throw error;
  }

  #runLocal<T>(
    key: string,
    breaker: Breaker,
    context: Context,
    next: (context: Context) => Promise<T>,
  ): Promise<T> {
    if (breaker.state === 'open' && this.#clock.now() >= (breaker.retryAt ?? 0)) {
      this.#move(key, breaker, 'half-open', 'half-open period started');
    }
    if (
      breaker.state === 'open' ||
      (breaker.state === 'half-open' && breaker.probes >= this.halfOpenProbes)
    ) {
      const state = breaker.state;
      const error = new CircuitOpenError({
        key,
        state,
        retryAt: state === 'open' ? breaker.retryAt : undefined,
        now: this.#clock.now(),
        cause: breaker.openedBy,
        host: hostAttribute(context.attributes),
      });
      if (this.#reject.size > 0) this.#reject.emit({ key, state, error, context });
      return Promise.reject(error);
    }
    const probe = breaker.state === 'half-open';
    if (probe) breaker.probes++;
    return this.#call(key, breaker, probe, context, next);
  }

  async #call<T>(
    key: string,
    breaker: Breaker,
    probe: boolean,
    context: Context,
    next: (context: Context) => Promise<T>,
    storeProbe?: BreakerProbe,
  ): Promise<T> {
    const started = this.#clock.now();
    let committedAt: number | undefined;
    // Waits on a shared model load are not the model's slowness, and a failed load is counted once.
    let loadWaitMs = 0;
    let loadWait: ModelLoadWait | undefined;
    const onModelLoad = (wait: ModelLoadWait) => {
      loadWait = wait;
      if (wait.type === 'wait-end') loadWaitMs += wait.waitedMs;
    };
    const inner =
      this.#slowCallMs === undefined
        ? context.with({ onModelLoad })
        : context.with({
            onCommit: () => {
              committedAt = this.#clock.now();
            },
            onModelLoad,
          });
    let outcome: Outcome;
    let error: unknown;
    let threw = false;
    let value: T | undefined;
    try {
      value = await next(inner);
      outcome = 'success';
    } catch (caught) {
      threw = true;
      error = caught;
      if (
        loadWait !== undefined &&
        (loadWait.type === 'wait-start' || (loadWait.outcome !== 'loaded' && !loadWait.countsAsFailure))
      ) {
        // The call failed while it waited on a load, or shares a failed load another call counts.
        outcome = 'ignore';
      } else if (this.#failureOn) outcome = this.#failureOn(caught, context) ? 'failure' : 'ignore';
      else outcome = classifyFailure(caught, context, this.#countOverload);
    }
    const durationMs = this.#clock.now() - started;
    if (!threw && this.#slowCallMs !== undefined) {
      const slowness = (committedAt ?? started + durationMs) - started - loadWaitMs;
      if (slowness > this.#slowCallMs) {
        outcome = 'failure';
        error = new Error(`Slow call: ${Math.round(slowness)} ms, over the ${this.#slowCallMs} ms limit`);
      }
    }
    if (probe) breaker.probes--;
    const opened = this.#record(key, breaker, probe, outcome, error);
    if (this.#store) await this.#tellStore(this.#store, key, probe, outcome, opened, storeProbe);
    if (this.#outcome.size > 0) this.#outcome.emit({ key, outcome, durationMs, error, context });
    if (threw) throw error;
    return value as T;
  }

  /** Counts an outcome; true when it opened the breaker. */
  #record(key: string, breaker: Breaker, probe: boolean, outcome: Outcome, error: unknown): boolean {
    if (outcome === 'ignore') return false;
    if (outcome === 'success') {
      breaker.counter.success(probe ? CockatielState.HalfOpen : CockatielState.Closed);
      if (probe && breaker.state === 'half-open') this.#move(key, breaker, 'closed', 'probe succeeded');
      return false;
    }
    if (probe) {
      if (breaker.state === 'half-open') this.#move(key, breaker, 'open', error);
      return true;
    }
    if (breaker.state === 'closed' && breaker.counter.failure(CockatielState.Closed)) {
      this.#move(key, breaker, 'open', error);
      return true;
    }
    return false;
  }

  /** Passes what a call decided on to the store; a store failure never changes the call's result. */
  async #tellStore(
    store: BreakerStore,
    key: string,
    probe: boolean,
    outcome: Outcome,
    opened: boolean,
    storeProbe: BreakerProbe | undefined,
  ): Promise<void> {
    try {
      if (opened) await store.open(key, this.halfOpenAfterMs);
      else if (probe && storeProbe !== undefined) {
        if (outcome === 'success') await store.close(key);
        else await store.releaseProbe(key, storeProbe);
      }
    } catch {
      // the store failing is the store's to report; the call's own result stands
    }
  }

  /** Where the breaker of `key` stands (`closed` for a key not seen yet). */
  state(key = 'default'): CircuitBreakerStatus {
    const breaker = this.#breakers.peek(key);
    if (!breaker) return { state: 'closed', retryAt: undefined, probes: 0 };
    return { state: breaker.state, retryAt: breaker.retryAt, probes: breaker.probes };
  }

  /** @deprecated Use `state(key)`. */
  getState(key = 'default'): CircuitBreakerStatus {
    return this.state(key);
  }

  /** Every breaker with its status. */
  *states(): IterableIterator<[string, CircuitBreakerStatus]> {
    for (const [key, breaker] of this.#breakers.entries()) {
      yield [key, { state: breaker.state, retryAt: breaker.retryAt, probes: breaker.probes }];
    }
  }

  /** A JSON snapshot of every breaker, to start another process with what this one knew. */
  exportState(): BreakerSnapshot {
    const breakers: BreakerSnapshot['breakers'] = {};
    for (const [key, breaker] of this.#breakers.entries()) {
      breakers[key] = {
        state: breaker.state === 'half-open' ? 'open' : breaker.state,
        ...(breaker.retryAt === undefined ? {} : { retryAt: breaker.retryAt }),
        breakerState: structuredClone(breaker.counter.state),
      };
      if (breaker.state === 'half-open') breakers[key].retryAt = this.#clock.now();
    }
    return { version: 1, breakers };
  }

  /** Restores a snapshot from `exportState()`. Probes in flight are not carried over. */
  restoreState(snapshot: BreakerSnapshot): void {
    if (snapshot?.version !== 1 || typeof snapshot.breakers !== 'object' || snapshot.breakers === null) {
      throw new InvalidOptionError(
        'restoreState(): not a snapshot made by exportState() (version 1)',
        'snapshot',
      );
    }
    for (const [key, saved] of Object.entries(snapshot.breakers)) {
      const breaker = this.#breaker(key);
      if (saved.breakerState !== undefined) breaker.counter.state = structuredClone(saved.breakerState);
      const to: CircuitState = saved.state === 'open' ? 'open' : 'closed';
      const from = breaker.state;
      breaker.state = to;
      breaker.retryAt =
        to === 'open' ? (saved.retryAt ?? this.#clock.now() + this.halfOpenAfterMs) : undefined;
      breaker.probes = 0;
      if (from !== to) this.#stateChange.emit({ key, from, to, reason: 'restored' });
    }
  }
}

/**
 * Opens per key after repeated failures, fails fast while open, and probes carefully.
 *
 * @example
 * const breaker = circuitBreaker({ key: 'model', halfOpenAfterMs: 10_000 });
 * breaker.onStateChange(({ key, from, to }) => console.log(`${key}: ${from} → ${to}`));
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  return new CircuitBreakerPolicy(options);
}
