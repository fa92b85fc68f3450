import type { Disposable, Event } from '@bulwark/core';
import { type Attributes, trace } from '@opentelemetry/api';
import { activeInstruments } from './active-providers.js';
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

/**
 * One change of a store: a `bulwark.events` point and a span event on the active span, both with
 * `bulwark.store.name` (`retry budget` → `retry_budget`, the attribute's form).
 */
function report(store: string, eventName: string, spanEvent: string, extra: Attributes): void {
  const attributes = { [ATTR_BULWARK_STORE_NAME]: store.trim().replace(/\s+/g, '_') };
  activeInstruments()?.record(METRIC_BULWARK_EVENTS, 1, {
    [ATTR_BULWARK_EVENT_NAME]: eventName,
    ...attributes,
  });
  trace.getActiveSpan()?.addEvent(spanEvent, { ...attributes, ...extra });
}

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
  const subscriptions = stores.flatMap((store) => [
    store.onUnavailable(({ store: name, error }) =>
      report(name, BulwarkEventName.StoreUnavailable, EVENT_BULWARK_STORE_UNAVAILABLE, {
        [ATTR_ERROR_TYPE]: errorType(error),
      }),
    ),
    store.onAvailable(({ store: name, unavailableMs }) =>
      report(name, BulwarkEventName.StoreAvailable, EVENT_BULWARK_STORE_AVAILABLE, {
        [ATTR_BULWARK_STORE_UNAVAILABLE_DURATION]: unavailableMs / 1_000,
      }),
    ),
  ]);
  return {
    dispose() {
      for (const subscription of subscriptions.splice(0)) subscription.dispose();
    },
  };
}
