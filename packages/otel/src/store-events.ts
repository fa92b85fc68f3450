import type { Disposable, Event } from '@bulwark/core';
import { trace } from '@opentelemetry/api';
import { activeInstruments } from './active-instruments.js';
import { errorType } from './error-type.js';
import {
  ATTR_BULWARK_EVENT_NAME,
  ATTR_BULWARK_STORE_NAME,
  ATTR_BULWARK_STORE_UNAVAILABLE_DURATION,
  ATTR_ERROR_TYPE,
  BulwarkEventName,
  EVENT_BULWARK_STORE_AVAILABLE,
  EVENT_BULWARK_STORE_UNAVAILABLE,
  METRIC_BULWARK_EVENTS,
} from './semconv.js';

/**
 * A shared store whose backend can stop answering: every store of `@bulwark/redis` (bulkhead,
 * breaker, retry budget, token limit, shared state).
 */
export interface ObservableStore {
  readonly onUnavailable: Event<{ readonly store: string; readonly error: unknown }>;
  readonly onAvailable: Event<{ readonly store: string; readonly unavailableMs: number }>;
}

/** `retry budget` → `retry_budget`, the attribute's form. */
const storeName = (store: string): string => store.trim().replace(/\s+/g, '_');

/**
 * Reports when shared stores fall back to local state and when they return: each change adds one
 * to `bulwark.events` (`bulwark.event.name` `store_unavailable` or `store_available`, with
 * `bulwark.store.name`), and a span event on the span active then (the call whose store operation
 * found out), if any. Returns what stops the reports.
 *
 * @example
 * const stop = instrumentStores(redisBulkheadStore({ client }), redisBreakerStore({ client }));
 */
export function instrumentStores(...stores: ObservableStore[]): Disposable {
  const subscriptions: Disposable[] = [];
  for (const store of stores) {
    subscriptions.push(
      store.onUnavailable(({ store: name, error }) => {
        const attributes = { [ATTR_BULWARK_STORE_NAME]: storeName(name) };
        activeInstruments()?.record(METRIC_BULWARK_EVENTS, 1, {
          [ATTR_BULWARK_EVENT_NAME]: BulwarkEventName.StoreUnavailable,
          ...attributes,
        });
        trace
          .getActiveSpan()
          ?.addEvent(EVENT_BULWARK_STORE_UNAVAILABLE, { ...attributes, [ATTR_ERROR_TYPE]: errorType(error) });
      }),
      store.onAvailable(({ store: name, unavailableMs }) => {
        const attributes = { [ATTR_BULWARK_STORE_NAME]: storeName(name) };
        activeInstruments()?.record(METRIC_BULWARK_EVENTS, 1, {
          [ATTR_BULWARK_EVENT_NAME]: BulwarkEventName.StoreAvailable,
          ...attributes,
        });
        trace.getActiveSpan()?.addEvent(EVENT_BULWARK_STORE_AVAILABLE, {
          ...attributes,
          [ATTR_BULWARK_STORE_UNAVAILABLE_DURATION]: unavailableMs / 1_000,
        });
      }),
    );
  }
  return {
    dispose() {
      for (const subscription of subscriptions.splice(0)) subscription.dispose();
    },
  };
}
