import type { ObservablePolicy } from '@bulwark/core';
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

type Watchable = Exclude<ObservablePolicy, { kind: 'timeout' }>;
type Of<K extends Watchable['kind']> = Extract<Watchable, { kind: K }>;

/** The states a breaker reports on `bulwark.circuit_breaker.state`, one series each. */
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

interface Watched<P extends object> {
  readonly policy: WeakRef<P>;
  readonly pipeline: string;
}

const breakers: Watched<Of<'circuit-breaker'>>[] = [];
const bulkheads: Watched<Of<'bulkhead'>>[] = [];
const retries: Watched<Of<'retry'>>[] = [];
const known = new WeakSet<object>();

/** Drops the entries whose policy was collected; calls `visit` with the live ones. */
function each<P extends object>(list: Watched<P>[], visit: (policy: P, pipeline: string) => void): void {
  for (let index = list.length - 1; index >= 0; index--) {
    const entry = list[index] as Watched<P>;
    const policy = entry.policy.deref();
    if (policy === undefined) list.splice(index, 1);
    else visit(policy, entry.pipeline);
  }
}

function observeBreakers(result: ObservableResult): void {
  each(breakers, (policy, pipeline) => {
    for (const [key, status] of policy.states()) {
      for (const state of BREAKER_STATES) {
        const attributes: Attributes = {
          [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
          [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key,
          [ATTR_BULWARK_CIRCUIT_BREAKER_STATE]: state.replace('-', '_'),
        };
        result.observe(state === status.state ? 1 : 0, attributes);
      }
    }
  });
}

function observeBulkheads(executing: ObservableResult, queued: ObservableResult): void {
  each(bulkheads, (policy, pipeline) => {
    for (const [key, status] of policy.states()) {
      const attributes: Attributes = {
        [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
        [ATTR_BULWARK_BULKHEAD_KEY]: key,
      };
      executing.observe(status.running, attributes);
      queued.observe(status.queued, attributes);
    }
  });
}

function observeBudgets(result: ObservableResult): void {
  each(retries, (policy, pipeline) => {
    for (const [key, status] of policy.states()) {
      if (Number.isFinite(status.remaining))
        result.observe(status.remaining, {
          [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
          [ATTR_BULWARK_RETRY_KEY]: key,
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
export function watchPolicy(policy: ObservablePolicy, pipeline: string): void {
  if (policy.kind === 'timeout' || known.has(policy)) return;
  known.add(policy);
  if (policy.kind === 'circuit-breaker') breakers.push({ policy: new WeakRef(policy), pipeline });
  else if (policy.kind === 'bulkhead') bulkheads.push({ policy: new WeakRef(policy), pipeline });
  else retries.push({ policy: new WeakRef(policy), pipeline });
  if (current) register(current);
}
