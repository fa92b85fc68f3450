import { type Context, definePolicy, type Policy, wrap } from '@bulwark/core';
import {
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  metrics,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

interface FloorState {
  attempts: number;
  firstChunkAt: number | undefined;
}

/**
 * The telemetry floor: a minimal hand-written instrumentation of the benchmark's chats that emits
 * the same spans and metric points as `@bulwark/otel` for them, through the same SDK, with nothing
 * general about it: one model, one host, attribute objects made once, instruments made once per
 * meter provider. What `@bulwark/otel` costs above this is the cost of being general.
 */
export function telemetryFloor(options: { model: string; host: string }): (policy: Policy) => Policy {
  const url = new URL(options.host);
  const server = { 'server.address': url.hostname, 'server.port': Number(url.port) };
  const call: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'ollama',
    'gen_ai.request.model': options.model,
    ...server,
  };
  const withResponse: Attributes = { ...call, 'gen_ai.response.model': options.model };
  const inputTokens: Attributes = { ...withResponse, 'gen_ai.token.type': 'input' };
  const outputTokens: Attributes = { ...withResponse, 'gen_ai.token.type': 'output' };
  const outcome: Attributes = {
    'bulwark.pipeline.name': 'default',
    ...call,
    'bulwark.call.outcome': 'success',
  };
  const attempt: Attributes = {
    'bulwark.pipeline.name': 'default',
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': options.model,
    'bulwark.attempt.number': 0,
  };
  const load: Attributes = {
    'gen_ai.provider.name': 'ollama',
    'gen_ai.request.model': options.model,
    ...server,
    'bulwark.model.load.outcome': 'success',
    'bulwark.model.load.source': 'server',
  };
  const tracer = trace.getTracer('telemetry-floor');
  let provider: MeterProvider | undefined;
  let instruments:
    | {
        duration: Histogram;
        tokens: Histogram;
        firstChunk: Histogram;
        calls: Counter;
        attempts: Histogram;
        timeouts: Histogram;
        loads: Histogram;
        attemptDuration: Histogram;
      }
    | undefined;
  const current = () => {
    const now = metrics.getMeterProvider();
    if (now !== provider) {
      provider = now;
      const meter = now.getMeter('telemetry-floor');
      instruments = {
        duration: meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' }),
        tokens: meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' }),
        firstChunk: meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', { unit: 's' }),
        calls: meter.createCounter('bulwark.calls', { unit: '{call}' }),
        attempts: meter.createHistogram('bulwark.call.attempts', { unit: '{attempt}' }),
        timeouts: meter.createHistogram('bulwark.call.timeouts', { unit: '{timeout}' }),
        loads: meter.createHistogram('bulwark.model.load.duration', { unit: 's' }),
        attemptDuration: meter.createHistogram('bulwark.attempt.duration', { unit: 's' }),
      };
    }
    return instruments!;
  };

  return (policy) => {
    const operation = definePolicy(async <T>(context: Context, next: (context: Context) => Promise<T>) => {
      const m = current();
      const startAt = context.clock.now();
      const span = tracer.startSpan(`chat ${options.model}`, {
        kind: SpanKind.CLIENT,
        attributes: call,
        startTime: startAt,
      });
      const state: FloorState = { attempts: 0, firstChunkAt: undefined };
      const inner = context.with({ attributes: { floor: state } });
      try {
        const result = await otelContext.with(
          trace.setSpan(otelContext.active(), span),
          next,
          undefined,
          inner,
        );
        const value = result as {
          done_reason?: string;
          prompt_eval_count?: number;
          eval_count?: number;
          load_duration?: number;
        };
        const endAt = context.clock.now();
        span.setAttributes({
          'gen_ai.response.model': options.model,
          'gen_ai.response.finish_reasons': [value.done_reason ?? 'stop'],
          'gen_ai.usage.input_tokens': value.prompt_eval_count ?? 0,
          'gen_ai.usage.output_tokens': value.eval_count ?? 0,
          'bulwark.attempt.count': state.attempts,
        });
        if (state.firstChunkAt !== undefined)
          span.setAttribute('gen_ai.response.time_to_first_chunk', (state.firstChunkAt - startAt) / 1000);
        if (value.load_duration !== undefined)
          span.setAttribute('bulwark.ollama.load_duration', value.load_duration / 1e9);
        span.end(endAt);
        m.duration.record((endAt - startAt) / 1000, withResponse);
        m.tokens.record(value.prompt_eval_count ?? 0, inputTokens);
        m.tokens.record(value.eval_count ?? 0, outputTokens);
        if (state.firstChunkAt !== undefined)
          m.firstChunk.record((state.firstChunkAt - startAt) / 1000, withResponse);
        if (value.load_duration !== undefined) m.loads.record(value.load_duration / 1e9, load);
        m.calls.add(1, outcome);
        m.attempts.record(state.attempts, outcome);
        m.timeouts.record(0, outcome);
        return result;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw error;
      }
    });
    const attemptLayer = definePolicy(async (context: Context, next) => {
      const state = context.attributes.floor as FloorState;
      state.attempts++;
      const startAt = context.clock.now();
      const span: Span = tracer.startSpan(
        'bulwark.attempt',
        {
          kind: SpanKind.INTERNAL,
          startTime: startAt,
          attributes: { 'bulwark.attempt.number': context.attempt },
        },
        otelContext.active(),
      );
      const inner = context.with({
        onFirstChunk: (at) => {
          state.firstChunkAt = at;
        },
      });
      try {
        return await otelContext.with(trace.setSpan(otelContext.active(), span), next, undefined, inner);
      } finally {
        const endAt = context.clock.now();
        span.end(endAt);
        current().attemptDuration.record((endAt - startAt) / 1000, attempt);
      }
    });
    return wrap(operation, policy, attemptLayer);
  };
}
