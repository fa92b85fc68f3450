import type { Context as OtelContext } from '@opentelemetry/api';

/**
 * Which GenAI convention names to emit: `'v1.41.1'` (the last release of the core repository),
 * `'latest'` (the unreleased `semantic-conventions-genai` names) or `'both'`.
 */
export type SemconvMode = 'v1.41.1' | 'latest' | 'both';

/** The Logs API record this package emits; typed structurally so no logs package is needed. */
export interface LogRecordLike {
  /** The event name, e.g. `gen_ai.client.operation.exception`. */
  eventName?: string;
  /** Epoch milliseconds. */
  timestamp?: number;
  severityNumber?: number;
  severityText?: string;
  body?: string;
  attributes?: Record<string, string | number | boolean | undefined>;
  /** The context holding the failed call's span, so the record correlates with the trace. */
  context?: OtelContext;
}

/** A Logs API `Logger` (`logs.getLogger(...)`), or anything with its `emit`. */
export interface LoggerLike {
  emit(record: LogRecordLike): void;
}

/** Options of {@link instrument} and {@link createInstrumentation}. */
export interface InstrumentOptions {
  /**
   * The pipeline's name, as `bulwark.pipeline.name` on the `bulwark.*` metrics. Keep it low in
   * cardinality (a handful of values per process).
   * @default 'default'
   */
  name?: string;
  /**
   * Record prompts and outputs (`gen_ai.input.messages`, `gen_ai.output.messages`,
   * `gen_ai.system_instructions`) on the operation span. They often hold personal data.
   * @default true when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is `true`, else false
   */
  captureContent?: boolean;
  /**
   * Which GenAI names to emit.
   * @default 'latest' when `OTEL_SEMCONV_STABILITY_OPT_IN` contains `gen_ai_latest_experimental`, else 'v1.41.1'
   */
  semconv?: SemconvMode;
  /**
   * Record `gen_ai.client.operation.time_per_output_chunk` (one point per stream). Switch off to
   * save a histogram series per model.
   * @default true
   */
  timePerOutputChunk?: boolean;
  /**
   * A Logs API logger. When given, a call's terminal failure is emitted as a log record
   * (`gen_ai.client.operation.exception`, severity WARN) instead of `recordException` on the span.
   * @default undefined (the failure is recorded on the operation span)
   */
  logger?: LoggerLike;
}

/** The part of an undici request that {@link startSpanHook} reads (nothing). */
export type UndiciRequestLike = object;
