import { InvalidOptionError, type Policy, wrap } from '@bulwark/core';
import { AttemptLayer, OperationLayer } from './operation-layer.js';
import { nestedPolicies, subscribePolicyEvents } from './policy-events.js';
import { resolveOptions } from './resolve-options.js';
import type { InstrumentOptions } from './types.js';

function assertPolicy(policy: unknown, where: string): asserts policy is Policy {
  if (!policy || typeof (policy as Policy).run !== 'function') {
    throw new InvalidOptionError(`${where}: the first argument is not a Bulwark policy`, 'policy');
  }
}

function build(policy: Policy, options: ReturnType<typeof resolveOptions>): Policy {
  for (const inner of nestedPolicies(policy)) if (inner instanceof OperationLayer) return policy;
  subscribePolicyEvents(policy, options.name);
  const operation = new OperationLayer(options);
  return wrap(operation, policy, new AttemptLayer(operation));
}

/**
 * Adds OpenTelemetry traces and metrics to a policy: one span per call (the GenAI span for chat,
 * generate and embeddings), one `bulwark.attempt` span per attempt, policy events as span events
 * and `bulwark.events` points, and the GenAI and `bulwark.*` metrics. The result is
 * `wrap(operationLayer, policy, attemptLayer)`. A policy that is already instrumented comes back
 * unchanged. Depends on `@opentelemetry/api` only; with no SDK registered a call costs a lookup.
 *
 * @example
 * const policy = instrument(wrap(retry(), circuitBreaker({ key: 'model' }), timeout({ attemptMs: 30_000 })));
 */
export function instrument(policy: Policy, options?: InstrumentOptions): Policy {
  assertPolicy(policy, 'instrument()');
  return build(policy, resolveOptions(options, 'instrument()'));
}

/**
 * `instrument` with its options bound: `(policy) => Policy`, the shape clients such as
 * `new Ollama({ instrument })` accept. Options are validated once, here.
 *
 * @example
 * const ollama = new Ollama({ host, policy, instrument: createInstrumentation({ captureContent: true }) });
 */
export function createInstrumentation(options?: InstrumentOptions): (policy: Policy) => Policy {
  const resolved = resolveOptions(options, 'createInstrumentation()');
  return (policy: Policy) => {
    assertPolicy(policy, 'createInstrumentation()');
    return build(policy, resolved);
  };
}
