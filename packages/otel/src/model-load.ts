import type { ModelLoadWait } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import type { Attributes, Span } from '@opentelemetry/api';
import type { Instruments } from './active-providers.js';
import type { CallDescription } from './call-description.js';
import {
  ATTR_BULWARK_ATTEMPT_NUMBER,
  ATTR_BULWARK_MODEL_LOAD_ELAPSED,
  ATTR_BULWARK_MODEL_LOAD_OUTCOME,
  ATTR_BULWARK_MODEL_LOAD_SOURCE,
  ATTR_BULWARK_MODEL_LOAD_WAIT_DURATION,
  ATTR_BULWARK_MODEL_LOAD_WAIT_OUTCOME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  CallOutcome,
  EVENT_BULWARK_MODEL_LOAD,
  METRIC_BULWARK_MODEL_LOAD_DURATION,
  ModelLoadSource,
} from './semconv.js';
import { parseServerAddress } from './server-address.js';

/**
 * The loads seen starting, per host and model: the load's start (in the waiting call's clock).
 * One load of a model per host runs at a time, and every call that waits on it reports the same
 * start, so the first wait that sees it end records it and removes it: one point per load,
 * however many calls waited.
 */
const openLoads = new LruMap<string, number>(1024);

/** Two waits whose load starts differ by less than this are waits on the same load. */
const SAME_LOAD_MS = 1;

/** Attribute sets of `bulwark.model.load.duration`, per host, model, provider and outcome. */
const loadAttributes = new LruMap<string, Attributes>(256);

function attributesOf(wait: ModelLoadWait, provider: string | undefined, outcome: string): Attributes {
  const key = `${wait.host}\u0000${wait.model}\u0000${provider ?? ''}\u0000${outcome}`;
  let attributes = loadAttributes.get(key);
  if (attributes) return attributes;
  attributes = {
    ...(provider === undefined ? {} : { [ATTR_GEN_AI_PROVIDER_NAME]: provider }),
    [ATTR_GEN_AI_REQUEST_MODEL]: wait.model,
    ...parseServerAddress(wait.host).attributes,
    [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: outcome,
    [ATTR_BULWARK_MODEL_LOAD_SOURCE]: ModelLoadSource.Client,
  };
  loadAttributes.set(key, attributes);
  return attributes;
}

/**
 * A call's wait on a model load its client owns (`onModelLoad`): at the wait's end, a
 * `bulwark.model.load` event on the attempt's span, and, once per load that ended while calls
 * waited, a `bulwark.model.load.duration` point with the load's time and outcome.
 */
export function recordModelLoadWait(
  wait: ModelLoadWait,
  description: CallDescription,
  instruments: Instruments | undefined,
  span: Span | undefined,
  attempt: number,
): void {
  const key = `${wait.host}\u0000${wait.model}`;
  const seen = openLoads.peek(key);
  const known = seen !== undefined && Math.abs(seen - wait.loadStartedAt) < SAME_LOAD_MS;
  if (wait.type === 'wait-start') {
    if (!known) openLoads.set(key, wait.loadStartedAt);
    return;
  }
  const elapsedMs = wait.at - wait.loadStartedAt;
  span?.addEvent(
    EVENT_BULWARK_MODEL_LOAD,
    {
      [ATTR_BULWARK_MODEL_LOAD_WAIT_OUTCOME]: wait.outcome,
      [ATTR_BULWARK_MODEL_LOAD_WAIT_DURATION]: wait.waitedMs / 1000,
      [ATTR_BULWARK_MODEL_LOAD_ELAPSED]: elapsedMs / 1000,
      [ATTR_BULWARK_ATTEMPT_NUMBER]: attempt,
    },
    wait.at,
  );
  if (wait.outcome === 'left' || !known) return;
  openLoads.delete(key);
  instruments?.record(
    METRIC_BULWARK_MODEL_LOAD_DURATION,
    elapsedMs / 1000,
    attributesOf(
      wait,
      description.provider,
      wait.outcome === 'loaded' ? CallOutcome.Success : CallOutcome.Error,
    ),
  );
}
