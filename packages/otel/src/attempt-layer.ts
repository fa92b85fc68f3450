import { BasePolicy, type Context } from '@bulwark/core';
import { callStateOf } from './call-state.js';
import type { OperationLayer } from './operation-layer.js';

/**
 * The inner layer of an instrumented policy, so it runs once per attempt (inside any retry): one
 * `bulwark.attempt` span per attempt, with the attempt's OpenTelemetry context active while it runs.
 */
export class AttemptLayer extends BasePolicy {
  readonly #owner: OperationLayer;

  constructor(owner: OperationLayer) {
    super();
    this.#owner = owner;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const state = callStateOf(context);
    // Only the state of our own operation layer: a nested instrumentation must not add spans twice.
    return state && state.owner === this.#owner ? state.runAttempt(context, next) : next(context);
  }
}
