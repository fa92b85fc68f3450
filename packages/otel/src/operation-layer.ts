import { type Attributes, BasePolicy, type Context } from '@bulwark/core';
import { context as otelContext, type Span, trace } from '@opentelemetry/api';
import { activeInstruments, activeTracer } from './active-providers.js';
import { describeCall } from './call-description.js';
import { CALL, CallState, callStateOf, runIn } from './call-state.js';
import type { ResolvedOptions } from './resolve-options.js';

/**
 * The outer layer of an instrumented policy: one span per call (the GenAI span for chat, generate
 * and embeddings), the call's metrics, and the state the attempt layer and the event listeners use.
 */
export class OperationLayer extends BasePolicy {
  readonly options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    super();
    this.options = options;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    // Instrumented twice: the outer instrumentation records the call.
    if (callStateOf(context)) return next(context);
    const tracer = activeTracer();
    const instruments = activeInstruments();
    if (!tracer && !instruments) return next(context);

    const parent = otelContext.active();
    const description = describeCall(context.attributes, this.options);
    const startAt = context.clock.now();
    let span: Span | undefined;
    if (tracer) {
      span = tracer.startSpan(
        description.spanName,
        {
          kind: description.spanKind,
          attributes: description.spanStartAttributes(context.attributes.request),
          startTime: startAt,
        },
        parent,
      );
      // Sampled out and no metrics: only carry the span context, so HTTP spans inherit the decision.
      if (!span.isRecording() && !instruments) {
        return otelContext.with(trace.setSpan(parent, span), next, undefined, context);
      }
    }
    const state = new CallState(this, description, context, tracer, span, parent, startAt, instruments);
    const inner = context.with({
      attributes: { [CALL]: state } as unknown as Attributes,
      onCallEvent: (event) => state.onCallEvent(event),
    });
    return runIn(state.otelContext, next, inner).then(
      (value) => {
        state.end(value, undefined, false);
        return value;
      },
      (error: unknown) => {
        state.end(undefined, error, true);
        throw error;
      },
    );
  }
}

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
