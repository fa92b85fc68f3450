import { type Attributes, type ObservableResult, ValueType } from '@opentelemetry/api';
import { type Instruments, onInstruments } from './active-instruments.js';
import {
  ATTR_BULWARK_BULKHEAD_KEY,
  ATTR_BULWARK_CIRCUIT_BREAKER_KEY,
  ATTR_BULWARK_CIRCUIT_BREAKER_STATE,
  ATTR_BULWARK_PIPELINE_NAME,
  ATTR_BULWARK_RETRY_KEY,
  METRIC_BULWARK_BULKHEAD_EXECUTING,
  METRIC_BULWARK_BULKHEAD_QUEUED,
  METRIC_BULWARK_CIRCUIT_BREAKER_STATE,
  METRIC_BULWARK_RETRY_BUDGET_REMAINING,
} from './semconv.js';

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** The states a breaker reports on `bulwark.circuit_breaker.state`, one series each. */
const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;

interface Watched {
  readonly policy: WeakRef<Fields>;
  readonly pipeline: string;
}

/** A breaker's state per key, read through whichever state API it has. */
function breakerStates(policy: Fields): Iterable<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  const add = (key: unknown, state: unknown) => {
    const value = isObject(state) ? state.state : state;
    if (typeof value === 'string')
      out.push([typeof key === 'string' ? key : 'default', value.replace(/-/g, '_')]);
  };
  const source = typeof policy.states === 'function' ? (policy.states as () => unknown)() : undefined;
  if (source instanceof Map) for (const [key, state] of source) add(key, state);
  else if (source !== undefined && isObject(source) && Symbol.iterator in source) {
    for (const entry of source as Iterable<unknown>) {
      if (Array.isArray(entry)) add(entry[0], entry[1]);
      else if (isObject(entry)) add(entry.key, entry.state);
    }
  } else if (isObject(source)) {
    for (const [key, state] of Object.entries(source)) add(key, state);
  } else if (typeof policy.state === 'string') {
    add('default', policy.state);
  }
  return out;
}

/** A bulkhead's running and queued counts per key. */
function bulkheadCounts(policy: Fields): Array<{ key: string; executing: number; queued: number }> {
  const out: Array<{ key: string; executing: number; queued: number }> = [];
  const add = (key: unknown, entry: unknown) => {
    if (!isObject(entry)) return;
    const executing = entry.executing ?? entry.running ?? entry.active;
    const queued = entry.queued ?? entry.waiting;
    if (finite(executing) && finite(queued))
      out.push({ key: typeof key === 'string' ? key : 'default', executing, queued });
  };
  const source =
    typeof policy.entries === 'function'
      ? (policy.entries as () => unknown)()
      : typeof policy.stats === 'function'
        ? (policy.stats as () => unknown)()
        : undefined;
  if (source instanceof Map) for (const [key, entry] of source) add(key, entry);
  else if (source !== undefined && isObject(source) && Symbol.iterator in source) {
    for (const entry of source as Iterable<unknown>) {
      if (Array.isArray(entry)) add(entry[0], entry[1]);
      else if (isObject(entry)) add(entry.key, entry);
    }
  } else if (isObject(source)) {
    if ('executing' in source || 'running' in source) add('default', source);
    else for (const [key, entry] of Object.entries(source)) add(key, entry);
  }
  return out;
}

const isBreaker = (policy: Fields) => typeof policy.onStateChange === 'function';
const isBulkhead = (policy: Fields) =>
  typeof policy.onQueued === 'function' || typeof policy.onAcquired === 'function';
const hasBudget = (policy: Fields) => typeof policy.budgetRemaining === 'function';

const breakers: Watched[] = [];
const bulkheads: Watched[] = [];
const retries: Watched[] = [];
const known = new WeakSet<object>();

/** Drops the entries whose policy was collected; calls `visit` with the live ones. */
function each(list: Watched[], visit: (policy: Fields, pipeline: string) => void): void {
  for (let index = list.length - 1; index >= 0; index--) {
    const entry = list[index] as Watched;
    const policy = entry.policy.deref();
    if (policy === undefined) list.splice(index, 1);
    else {
      try {
        visit(policy, entry.pipeline);
      } catch {
        // A state API that throws reports nothing this round.
      }
    }
  }
}

function observeBreakers(result: ObservableResult): void {
  each(breakers, (policy, pipeline) => {
    for (const [key, current] of breakerStates(policy)) {
      for (const state of BREAKER_STATES) {
        const attributes: Attributes = {
          [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
          [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key,
          [ATTR_BULWARK_CIRCUIT_BREAKER_STATE]: state,
        };
        result.observe(state === current ? 1 : 0, attributes);
      }
    }
  });
}

function observeBulkheads(executing: ObservableResult, queued: ObservableResult): void {
  each(bulkheads, (policy, pipeline) => {
    for (const entry of bulkheadCounts(policy)) {
      const attributes: Attributes = {
        [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
        [ATTR_BULWARK_BULKHEAD_KEY]: entry.key,
      };
      executing.observe(entry.executing, attributes);
      queued.observe(entry.queued, attributes);
    }
  });
}

/** A retry policy's remaining budget per key: every key through `budgets()`, else the default one. */
function budgetsOf(policy: Fields): Iterable<readonly [unknown, unknown]> {
  if (typeof policy.budgets === 'function') {
    const source = (policy.budgets as () => unknown)();
    if (isObject(source) && Symbol.iterator in source) return source as Iterable<[unknown, unknown]>;
  }
  return [['default', (policy.budgetRemaining as () => unknown)()]];
}

function observeBudgets(result: ObservableResult): void {
  each(retries, (policy, pipeline) => {
    for (const entry of budgetsOf(policy)) {
      const [key, remaining] = entry;
      if (finite(remaining))
        result.observe(remaining, {
          [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
          [ATTR_BULWARK_RETRY_KEY]: typeof key === 'string' ? key : 'default',
        });
    }
  });
}

/** Which observable instruments exist on which meter's instruments. */
const registered = new WeakMap<Instruments, Set<string>>();

function register(instruments: Instruments): void {
  let done = registered.get(instruments);
  if (!done) {
    done = new Set();
    registered.set(instruments, done);
  }
  const { meter } = instruments;
  if (breakers.length > 0 && !done.has('breaker')) {
    done.add('breaker');
    meter
      .createObservableGauge(METRIC_BULWARK_CIRCUIT_BREAKER_STATE, {
        description: 'Circuit breaker state: one series per state, 1 for the current one.',
        unit: '1',
        valueType: ValueType.INT,
      })
      .addCallback(observeBreakers);
  }
  if (bulkheads.length > 0 && !done.has('bulkhead')) {
    done.add('bulkhead');
    const executing = meter.createObservableUpDownCounter(METRIC_BULWARK_BULKHEAD_EXECUTING, {
      description: 'Calls holding a bulkhead slot.',
      unit: '{request}',
      valueType: ValueType.INT,
    });
    const queued = meter.createObservableUpDownCounter(METRIC_BULWARK_BULKHEAD_QUEUED, {
      description: 'Calls waiting for a bulkhead slot.',
      unit: '{request}',
      valueType: ValueType.INT,
    });
    meter.addBatchObservableCallback(
      (result) =>
        observeBulkheads(
          { observe: (value, attributes) => result.observe(executing, value, attributes) },
          { observe: (value, attributes) => result.observe(queued, value, attributes) },
        ),
      [executing, queued],
    );
  }
  if (retries.length > 0 && !done.has('retry')) {
    done.add('retry');
    meter
      .createObservableGauge(METRIC_BULWARK_RETRY_BUDGET_REMAINING, {
        description: 'Retries the retry budget still allows.',
        unit: '{retry}',
        valueType: ValueType.INT,
      })
      .addCallback(observeBudgets);
  }
}

let current: Instruments | undefined;
onInstruments((instruments) => {
  current = instruments;
  register(instruments);
});

/**
 * Watches a policy's state for the gauges (`bulwark.circuit_breaker.state`,
 * `bulwark.bulkhead.executing` / `.queued`, `bulwark.retry.budget.remaining`), by weak reference:
 * a policy that is dropped stops being reported.
 */
export function watchPolicy(policy: Fields, pipeline: string): void {
  if (known.has(policy)) return;
  const entry: Watched = { policy: new WeakRef(policy), pipeline };
  let watched = false;
  if (isBreaker(policy)) {
    breakers.push(entry);
    watched = true;
  }
  if (isBulkhead(policy)) {
    bulkheads.push(entry);
    watched = true;
  }
  if (hasBudget(policy)) {
    retries.push(entry);
    watched = true;
  }
  if (!watched) return;
  known.add(policy);
  if (current) register(current);
}
