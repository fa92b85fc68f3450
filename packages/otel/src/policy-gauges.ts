import type { ObservablePolicy } from '@bulwark/core';
import { type Meter, ValueType } from '@opentelemetry/api';
import type { Instruments } from './active-providers.js';
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
type Kind = Watchable['kind'];
type Of<K extends Kind> = Extract<Watchable, { kind: K }>;

/** The states a breaker reports on `bulwark.circuit_breaker.state`, one series each. */
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

/** The watched policies of each kind, by weak reference, with their pipeline's name. */
const watched: { [K in Kind]: { readonly policy: WeakRef<Of<K>>; readonly pipeline: string }[] } = {
  'circuit-breaker': [],
  bulkhead: [],
  retry: [],
};
const known = new WeakSet<object>();

/** Drops the entries whose policy was collected; calls `visit` with the live ones. */
function each<K extends Kind>(kind: K, visit: (policy: Of<K>, pipeline: string) => void): void {
  const list = watched[kind];
  for (let index = list.length - 1; index >= 0; index--) {
    const entry = list[index] as (typeof list)[number];
    const policy = entry.policy.deref();
    if (policy === undefined) list.splice(index, 1);
    else visit(policy as Of<K>, entry.pipeline);
  }
}

/** Creates the observable instruments that report one kind of policy. */
const GAUGES: { readonly [K in Kind]: (meter: Meter) => void } = {
  'circuit-breaker': (meter) =>
    meter
      .createObservableGauge(METRIC_BULWARK_CIRCUIT_BREAKER_STATE, {
        description: 'Circuit breaker state: one series per state, 1 for the current one.',
        unit: '1',
        valueType: ValueType.INT,
      })
      .addCallback((result) =>
        each('circuit-breaker', (policy, pipeline) => {
          for (const [key, status] of policy.states())
            for (const state of BREAKER_STATES)
              result.observe(state === status.state ? 1 : 0, {
                [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
                [ATTR_BULWARK_CIRCUIT_BREAKER_KEY]: key,
                [ATTR_BULWARK_CIRCUIT_BREAKER_STATE]: state.replace('-', '_'),
              });
        }),
      ),
  bulkhead: (meter) => {
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
        each('bulkhead', (policy, pipeline) => {
          for (const [key, status] of policy.states()) {
            const attributes = { [ATTR_BULWARK_PIPELINE_NAME]: pipeline, [ATTR_BULWARK_BULKHEAD_KEY]: key };
            result.observe(executing, status.running, attributes);
            result.observe(queued, status.queued, attributes);
          }
        }),
      [executing, queued],
    );
  },
  retry: (meter) =>
    meter
      .createObservableGauge(METRIC_BULWARK_RETRY_BUDGET_REMAINING, {
        description: 'Retries the retry budget still allows.',
        unit: '{retry}',
        valueType: ValueType.INT,
      })
      .addCallback((result) =>
        each('retry', (policy, pipeline) => {
          for (const [key, status] of policy.states())
            if (Number.isFinite(status.remaining))
              result.observe(status.remaining, {
                [ATTR_BULWARK_PIPELINE_NAME]: pipeline,
                [ATTR_BULWARK_RETRY_KEY]: key,
              });
        }),
      ),
};

/** The latest instruments made, which a policy watched from now on reports on. */
let current: Instruments | undefined;

/** Which kinds have their observable instruments on which meter's instruments. */
const registered = new WeakMap<Instruments, Set<Kind>>();

/** Creates, on these instruments' meter, the gauges of every kind of policy watched and not yet reported there. */
export function registerGauges(instruments: Instruments): void {
  current = instruments;
  const done = registered.get(instruments) ?? new Set<Kind>();
  registered.set(instruments, done);
  for (const kind of Object.keys(GAUGES) as Kind[]) {
    if (watched[kind].length === 0 || done.has(kind)) continue;
    done.add(kind);
    GAUGES[kind](instruments.meter);
  }
}

/**
 * Watches a policy's state for the gauges (`bulwark.circuit_breaker.state`,
 * `bulwark.bulkhead.executing` / `.queued`, `bulwark.retry.budget.remaining`), by weak reference:
 * a policy that is dropped stops being reported.
 */
export function watchPolicy(policy: ObservablePolicy, pipeline: string): void {
  if (policy.kind === 'timeout' || known.has(policy)) return;
  known.add(policy);
  (watched[policy.kind] as { policy: WeakRef<Watchable>; pipeline: string }[]).push({
    policy: new WeakRef(policy),
    pipeline,
  });
  if (current) registerGauges(current);
}
