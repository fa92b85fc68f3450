import {
  type Context,
  isSpanContextValid,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';

/** The W3C `traceparent` injection, enough for tests (the SDK's propagator lives in @opentelemetry/core). */
export const traceContextPropagator: TextMapPropagator = {
  inject(context: Context, carrier: unknown, setter: TextMapSetter) {
    const spanContext = trace.getSpanContext(context);
    if (!spanContext || !isSpanContextValid(spanContext)) return;
    const flags = `0${(spanContext.traceFlags & 0xff).toString(16)}`.slice(-2);
    setter.set(carrier, 'traceparent', `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
  },
  extract: (context: Context) => context,
  fields: () => ['traceparent'],
};
