import {
  BulkheadRejectedError,
  type CallEvent,
  CircuitOpenError,
  type Clock,
  type Context,
  type GiveUpEvent,
  TimeoutError,
} from '@bulwark/core';
import { type Cancel, cancelOf } from '@bulwark/core/internal';
import {
  type Attributes,
  type AttributeValue,
  createContextKey,
  type Context as OtelContext,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Instruments } from './active-providers.js';
import { type CallDescription, describeCall } from './call-description.js';
import { inputMessages, outputMessages, systemInstructions } from './content.js';
import { errorType, isRejection, timeoutLimitSeconds, timeoutPhase, withErrorType } from './error-type.js';
import { recordModelLoadWait } from './model-load.js';
import type { OperationLayer } from './operation-layer.js';
import { hasImages, isStreamRequest } from './request-attributes.js';
import type { ResolvedOptions } from './resolve-options.js';
import { summarizeResponse } from './response-attributes.js';
import {
  ATTR_BULWARK_ATTEMPT_COUNT,
  ATTR_BULWARK_ATTEMPT_NUMBER,
  ATTR_BULWARK_ATTEMPT_TIME_TO_FIRST_CHUNK,
  ATTR_BULWARK_EVENT_NAME,
  ATTR_BULWARK_OLLAMA_LOAD_DURATION,
  ATTR_BULWARK_RETRY_COUNT,
  ATTR_BULWARK_RETRY_REASON,
  ATTR_BULWARK_TIMEOUT_COUNT,
  ATTR_BULWARK_TIMEOUT_LIMIT,
  ATTR_BULWARK_TIMEOUT_PHASE,
  ATTR_ERROR_TYPE,
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  BulwarkEventName,
  CallOutcome,
  EVENT_BULWARK_CANCELLED,
  EVENT_BULWARK_OPERATION_EXCEPTION,
  EVENT_BULWARK_RETRY_GIVE_UP,
  EVENT_BULWARK_STREAM_COMMITTED,
  EVENT_BULWARK_TIMEOUT,
  EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION,
  METRIC_BULWARK_ATTEMPT_DURATION,
  METRIC_BULWARK_CALL_ATTEMPTS,
  METRIC_BULWARK_CALL_TIMEOUTS,
  METRIC_BULWARK_CALLS,
  METRIC_BULWARK_EVENTS,
  METRIC_BULWARK_MODEL_LOAD_DURATION,
  METRIC_BULWARK_PIPELINE_DURATION,
  METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION,
  METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
  METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  SPAN_BULWARK_ATTEMPT,
} from './semconv.js';

/** The key under which a call's state travels in the Bulwark context's attributes. */
export const CALL: unique symbol = Symbol('bulwark.otel.call');

/** The OpenTelemetry context key holding the number of the attempt in progress. */
export const ATTEMPT_KEY = createContextKey('bulwark.otel.attempt');

/** The OpenTelemetry context key holding the call's state, for events that carry no Bulwark context. */
const CALL_KEY = createContextKey('bulwark.otel.call');

/** SeverityNumber.WARN of the Logs API (a number, so no logs package is needed). */
const SEVERITY_WARN = 13;

/** The call state a Bulwark context carries, if any. */
export function callStateOf(context: Context | undefined): CallState | undefined {
  const state = (context?.attributes as Record<symbol, unknown> | undefined)?.[CALL];
  return state instanceof CallState ? state : undefined;
}

/** The state of the call whose OpenTelemetry context is active, if any. */
export function activeCallState(): CallState | undefined {
  const state = otelContext.active().getValue(CALL_KEY);
  return state instanceof CallState ? state : undefined;
}

/** Runs `next` with `active` as the OpenTelemetry context, a synchronous throw becoming a rejection. */
export function runIn<T>(
  active: OtelContext,
  next: (context: Context) => Promise<T>,
  context: Context,
): Promise<T> {
  try {
    return otelContext.with(active, next, undefined, context);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What refused an attempt, for its span's status: `Circuit breaker "llama3.2" is open`. */
function refusalText(error: unknown): string {
  if (CircuitOpenError.is(error)) return `Circuit breaker "${error.key}" is ${error.state}`;
  if (BulkheadRejectedError.is(error)) return `Bulkhead "${error.key}" is full`;
  return messageOf(error);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : String(error);
}

/** An attempt whose span is open: the attempt layer runs it. */
interface OpenAttempt {
  readonly number: number;
  readonly span: Span | undefined;
  readonly startAt: number;
  readonly clock: Clock;
}

/**
 * One call's telemetry, fed in order by three sources: the attempt layer (each attempt it runs),
 * the call's lifecycle events (`attempt-start`, `commit`, `attempt-end`, `give-up`, reported on the
 * Bulwark context) and the policies' events (found through the context they carry). Each fact has
 * one source, so nothing is counted twice: an attempt that ran ends at the attempt layer; one the
 * attempt layer never saw (a breaker or bulkhead refused it) ends at its `attempt-end`, or at the
 * call's end without a retry; a timeout is counted where it is first seen, and only the latest
 * one can be seen again (by the attempt that it aborted, the retry that reports it, the call's end).
 */
export class CallState {
  /** The operation layer that made this state. */
  readonly owner: OperationLayer;
  readonly options: ResolvedOptions;
  /** The call's description; for a client with several hosts, with the latest attempt's host. */
  description: CallDescription;
  /** The call asks for a stream (its request's `stream: true`, or a `stream: true` attribute). */
  readonly stream: boolean;
  readonly instruments: Instruments | undefined;
  /** The operation span, absent when no tracer provider is registered. */
  readonly span: Span | undefined;
  /** The operation span records (an SDK is registered and sampled it). */
  readonly recording: boolean;
  /** The OpenTelemetry context of the call: the caller's, with the operation span. */
  readonly otelContext: OtelContext;
  readonly clock: Clock;
  readonly startAt: number;
  /** When the call committed: its first chunk reached the caller (clock time). */
  firstChunkAt: number | undefined;
  /** When the latest attempt received its first chunk, streamed or not (clock time). */
  attemptFirstChunkAt: number | undefined;
  /** Attempts made, refused ones included. */
  attempts = 0;
  /** Timeouts during the call. */
  timeouts = 0;
  /** The call waited on a model load its client owns (recorded from the wait, not the answer). */
  waitedOnLoad = false;
  readonly #tracer: Tracer | undefined;
  readonly #cancel: Cancel;
  /** The attempt span opened last, and any other still open (an aborted attempt still settling). */
  #open: OpenAttempt | undefined;
  #openOthers: OpenAttempt[] | undefined;
  /** The latest attempt number the attempt layer ran. */
  #ran = -1;
  /** A retry reports this call's attempts. */
  #retried = false;
  /** The latest timeout counted: the only one a later source can report again. */
  #lastTimeout: unknown;
  /** The error the latest attempt the attempt layer ran failed with. */
  #lastAttemptError: unknown;
  /** The call's attributes as it started, and the description made from them. */
  readonly #attributes: Context['attributes'];
  readonly #startDescription: CallDescription;

  constructor(
    owner: OperationLayer,
    description: CallDescription,
    context: Context,
    tracer: Tracer | undefined,
    span: Span | undefined,
    parent: OtelContext,
    startAt: number,
    instruments: Instruments | undefined,
  ) {
    this.owner = owner;
    this.options = owner.options;
    this.description = description;
    this.#attributes = context.attributes;
    this.#startDescription = description;
    this.stream = isStreamRequest(context.attributes.request) || context.attributes.stream === true;
    this.instruments = instruments;
    this.#tracer = tracer;
    this.span = span;
    this.recording = span?.isRecording() ?? false;
    this.otelContext = (span ? trace.setSpan(parent, span) : parent).setValue(CALL_KEY, this);
    this.clock = context.clock;
    this.startAt = startAt;
    this.#cancel = cancelOf(context);
    if (this.recording && this.options.captureContent && description.genAi && !description.embeddings) {
      const input = inputMessages(context.attributes.request);
      if (input !== undefined) span?.setAttribute(ATTR_GEN_AI_INPUT_MESSAGES, input);
      const system = systemInstructions(context.attributes.request);
      if (system !== undefined) span?.setAttribute(ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, system);
    }
  }

  /**
   * The caller cancelled: its signal aborted and this is the signal's reason. A Bulwark timeout as
   * the reason is a deadline (the call's own `totalMs`, or a policy's around the client), recorded
   * as a timeout, as `retry()` reports it (`outer-deadline`).
   */
  isCancel(error: unknown): boolean {
    return this.#cancel.aborted && error === this.#cancel.reason && !TimeoutError.is(error);
  }

  /** The open span of an attempt, else the operation span (for events). */
  spanFor(attempt?: number): Span | undefined {
    if (!this.recording) return undefined;
    if (attempt === undefined) return this.span;
    if (this.#open?.number === attempt) return this.#open.span ?? this.span;
    return this.#openOthers?.find((open) => open.number === attempt)?.span ?? this.span;
  }

  /** Adds one point to `bulwark.events`. */
  countEvent(name: string, extra?: Attributes): void {
    const instruments = this.instruments;
    if (!instruments) return;
    instruments.record(
      METRIC_BULWARK_EVENTS,
      1,
      extra === undefined
        ? this.description.eventAttributes(name)
        : { ...this.description.policyMetricAttributes, [ATTR_BULWARK_EVENT_NAME]: name, ...extra },
    );
  }

  /** One event of the call's lifecycle, as the context reports it. */
  onCallEvent(event: CallEvent): void {
    switch (event.type) {
      case 'attempt-start':
        this.#retried = true;
        this.attemptFirstChunkAt = undefined;
        return;
      case 'commit':
        this.firstChunkAt ??= event.at;
        return;
      case 'attempt-end':
        // An attempt the attempt layer never ran was refused before dispatch: it still gets a span.
        if (event.outcome === 'failure' && this.#ran < event.attempt && isRejection(event.error))
          this.#refused(event.attempt, event.error);
        return;
      case 'give-up':
        this.#gaveUp(event);
        return;
    }
  }

  #gaveUp(event: GiveUpEvent): void {
    // A caller's cancel is not a give-up: the call records it as `bulwark.cancelled`.
    if (event.reason === 'cancelled') return;
    this.spanFor()?.addEvent(
      EVENT_BULWARK_RETRY_GIVE_UP,
      withErrorType(
        { [ATTR_BULWARK_ATTEMPT_NUMBER]: event.attempt, [ATTR_BULWARK_RETRY_REASON]: event.reason },
        event.error,
      ),
      event.at,
    );
    this.countEvent(BulwarkEventName.GiveUp);
  }

  /**
   * Records a timeout unless it is the one counted last: a `bulwark.timeout` event on the attempt's
   * span (or the operation span) and a `bulwark.events` point with the phase.
   */
  noteTimeout(error: unknown, attempt: number | undefined): void {
    const phase = timeoutPhase(error);
    if (phase === undefined || error === this.#lastTimeout) return;
    this.#lastTimeout = error;
    this.timeouts++;
    const span = this.spanFor(attempt);
    if (span) {
      const attributes: Attributes = { [ATTR_BULWARK_TIMEOUT_PHASE]: phase };
      const limit = timeoutLimitSeconds(error);
      if (limit !== undefined) attributes[ATTR_BULWARK_TIMEOUT_LIMIT] = limit;
      if (attempt !== undefined) attributes[ATTR_BULWARK_ATTEMPT_NUMBER] = attempt;
      span.addEvent(EVENT_BULWARK_TIMEOUT, attributes, this.clock.now());
    }
    this.instruments?.record(METRIC_BULWARK_EVENTS, 1, this.description.timeoutEventAttributes(phase));
  }

  /** Runs one attempt under its span: the attempt layer's work. */
  runAttempt<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const attempt = context.attempt;
    this.attempts++;
    if (attempt > this.#ran) {
      this.#ran = attempt;
      if (!this.#retried) this.attemptFirstChunkAt = undefined;
    }
    // A client with several hosts routes each attempt: the call is described by the latest one's.
    const host = context.attributes.host;
    if (host !== this.#attributes.host || this.description !== this.#startDescription)
      this.description = describeCall({ ...this.#attributes, host }, this.options);
    const startAt = context.clock.now();
    let span: Span | undefined;
    // Attempt 0 needs no key (the hook reads "no key" as 0) unless an enclosing attempt set one.
    const inherited = attempt === 0 ? this.otelContext.getValue(ATTEMPT_KEY) : undefined;
    let active =
      attempt === 0 && (inherited === undefined || inherited === 0)
        ? this.otelContext
        : this.otelContext.setValue(ATTEMPT_KEY, attempt);
    if (this.recording && this.#tracer) {
      span = this.#tracer.startSpan(
        SPAN_BULWARK_ATTEMPT,
        {
          kind: SpanKind.INTERNAL,
          startTime: startAt,
          attributes: this.description.attemptSpanAttributes(attempt),
        },
        this.otelContext,
      );
      active = trace.setSpan(active, span);
    }
    const open: OpenAttempt = { number: attempt, span, startAt, clock: context.clock };
    if (this.#open) {
      this.#openOthers ??= [];
      this.#openOthers.push(this.#open);
    }
    this.#open = open;
    const inner = context.with({
      onFirstChunk: (at) => {
        if (attempt === this.#ran) this.attemptFirstChunkAt = at;
      },
      onCommit: span
        ? (at) => {
            span.setAttribute(ATTR_BULWARK_ATTEMPT_TIME_TO_FIRST_CHUNK, (at - startAt) / 1000);
            span.addEvent(EVENT_BULWARK_STREAM_COMMITTED, at);
          }
        : undefined,
      onModelLoad: (wait) => {
        this.waitedOnLoad = true;
        recordModelLoadWait(wait, this.description, this.instruments, span, attempt);
      },
    });
    return runIn(active, next, inner).then(
      (value) => {
        this.#endAttempt(open, cancelOf(inner), undefined, false);
        return value;
      },
      (error: unknown) => {
        this.#endAttempt(open, cancelOf(inner), error, true);
        throw error;
      },
    );
  }

  #endAttempt(open: OpenAttempt, cancel: Cancel, error: unknown, failed: boolean): void {
    const { number: attempt, span, startAt } = open;
    const endAt = open.clock.now();
    let type: string | undefined;
    if (failed) {
      this.#lastAttemptError = error;
      if (this.isCancel(error)) {
        span?.addEvent(EVENT_BULWARK_CANCELLED, endAt);
      } else {
        type = errorType(error);
        // A timeout that aborted the attempt from outside was counted by the policy that fired.
        if (!(cancel.aborted && error === cancel.reason)) this.noteTimeout(error, attempt);
        if (span) {
          span.setAttribute(ATTR_ERROR_TYPE, type);
          const phase = timeoutPhase(error);
          if (phase !== undefined) span.setAttribute(ATTR_BULWARK_TIMEOUT_PHASE, phase);
          span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
        }
      }
    }
    if (this.#open === open) this.#open = this.#openOthers?.pop();
    else if (this.#openOthers) this.#openOthers = this.#openOthers.filter((other) => other !== open);
    span?.end(endAt);
    this.instruments?.record(
      METRIC_BULWARK_ATTEMPT_DURATION,
      (endAt - startAt) / 1000,
      this.description.attemptAttributes(attempt, type),
    );
  }

  /**
   * An attempt that a breaker or bulkhead refused before dispatch (the attempt layer never ran for
   * it): a zero-length `bulwark.attempt` span in error, so every attempt has a span.
   */
  #refused(attempt: number, error: unknown): void {
    this.attempts++;
    this.noteTimeout(error, undefined);
    if (!this.recording || !this.#tracer) return;
    const at = this.clock.now();
    const attributes: Attributes = {
      [ATTR_BULWARK_ATTEMPT_NUMBER]: attempt,
      [ATTR_ERROR_TYPE]: errorType(error),
    };
    const phase = timeoutPhase(error);
    if (phase !== undefined) attributes[ATTR_BULWARK_TIMEOUT_PHASE] = phase;
    const span = this.#tracer.startSpan(
      SPAN_BULWARK_ATTEMPT,
      { kind: SpanKind.INTERNAL, startTime: at, attributes },
      this.otelContext,
    );
    span.setStatus({ code: SpanStatusCode.ERROR, message: refusalText(error) });
    span.end(at);
  }

  /** Ends the call: the operation span's final attributes and status, and the call's metrics. */
  end(value: unknown, error: unknown, failed: boolean): void {
    const endAt = this.clock.now();
    const cancelled = failed && this.isCancel(error);
    if (failed && !cancelled) {
      // Without a retry to report it, an attempt refused before dispatch ends here: a refusal
      // the last attempt the attempt layer ran did not fail with.
      if (!this.#retried && isRejection(error) && error !== this.#lastAttemptError)
        this.#refused(this.#ran + 1, error);
      else this.noteTimeout(error, undefined);
    }
    const { description, span } = this;
    const summary =
      failed || !description.genAi ? undefined : summarizeResponse(value, description.embeddings);
    const type = failed && !cancelled ? errorType(error) : undefined;
    // The caller's first chunk for a stream; the first chunk of the last attempt otherwise.
    const firstChunkAt = this.firstChunkAt ?? this.attemptFirstChunkAt;

    if (span && this.recording) {
      if (description !== this.#startDescription) span.setAttributes(description.server.attributes);
      span.setAttribute(ATTR_BULWARK_ATTEMPT_COUNT, this.attempts);
      if (this.attempts > 1) span.setAttribute(ATTR_BULWARK_RETRY_COUNT, this.attempts - 1);
      if (this.timeouts > 0) span.setAttribute(ATTR_BULWARK_TIMEOUT_COUNT, this.timeouts);
      if (description.genAi) {
        // One setAttribute per key: the SDK's setAttributes copies the object into entries first.
        for (const name in summary) span.setAttribute(name, summary[name] as AttributeValue);
        if (firstChunkAt !== undefined)
          span.setAttribute(ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, (firstChunkAt - this.startAt) / 1000);
        if (type !== undefined && this.firstChunkAt !== undefined)
          span.setAttribute(ATTR_GEN_AI_RESPONSE_FINISH_REASONS, ['error']);
        if (this.options.captureContent && !failed && !description.embeddings) {
          const output = outputMessages(value);
          if (output !== undefined) span.setAttribute(ATTR_GEN_AI_OUTPUT_MESSAGES, output);
        }
      }
      if (cancelled) span.addEvent(EVENT_BULWARK_CANCELLED, endAt);
      if (type !== undefined) {
        span.setAttribute(ATTR_ERROR_TYPE, type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(error) });
      }
    }
    if (type !== undefined) this.#recordFailure(error, type, endAt);
    if (cancelled) this.countEvent(BulwarkEventName.Cancelled);
    span?.end(endAt);
    const instruments = this.instruments;
    if (!instruments) return;
    const phase = type === undefined ? undefined : timeoutPhase(error);
    const outcome = cancelled
      ? CallOutcome.Cancelled
      : type === undefined
        ? CallOutcome.Success
        : phase !== undefined
          ? CallOutcome.Timeout
          : CallOutcome.Error;
    const counted = description.outcomeAttributes(
      outcome,
      type,
      outcome === CallOutcome.Timeout ? phase : undefined,
    );
    instruments.record(METRIC_BULWARK_CALLS, 1, counted.call);
    instruments.record(METRIC_BULWARK_CALL_ATTEMPTS, this.attempts, counted.counts);
    instruments.record(METRIC_BULWARK_CALL_TIMEOUTS, this.timeouts, counted.counts);
    const durationSeconds = (endAt - this.startAt) / 1000;
    const response = description.responseAttributes(
      summary?.[ATTR_GEN_AI_RESPONSE_MODEL] as string | undefined,
    );
    const withError = type === undefined ? response.call : response.withError(type);
    if (!description.genAi) {
      instruments.record(METRIC_BULWARK_PIPELINE_DURATION, durationSeconds, withError);
      return;
    }
    const { embeddings } = description;
    this.#recordGenAi(
      METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
      embeddings ? METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION : METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
      durationSeconds,
      withError,
    );
    const input = summary?.[ATTR_GEN_AI_USAGE_INPUT_TOKENS] as number | undefined;
    const output = summary?.[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] as number | undefined;
    if (this.options.emitV1) {
      if (input !== undefined)
        instruments.record(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, input, response.inputTokens);
      if (output !== undefined)
        instruments.record(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, output, response.outputTokens);
    }
    if (this.options.emitLatest) {
      if (embeddings) {
        if (input !== undefined)
          instruments.record(METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS, input, withError);
      } else {
        // The genai-main counters are recorded for every inference, failed ones with 0 and modality unknown.
        const modality = input === undefined || hasImages(this.#attributes.request) ? 'unknown' : 'text';
        instruments.record(
          METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
          input ?? 0,
          response.modality(modality),
        );
        instruments.record(
          METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
          output ?? 0,
          response.modality(output === undefined ? 'unknown' : 'text'),
        );
        if (input !== undefined)
          instruments.record(METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS, input, withError);
        if (output !== undefined)
          instruments.record(METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS, output, withError);
      }
    }
    const loadSeconds = summary?.[ATTR_BULWARK_OLLAMA_LOAD_DURATION] as number | undefined;
    if (loadSeconds !== undefined && !this.waitedOnLoad)
      instruments.record(METRIC_BULWARK_MODEL_LOAD_DURATION, loadSeconds, description.loadAttributes);
    if (firstChunkAt === undefined) return;
    this.#recordGenAi(
      METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
      METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
      (firstChunkAt - this.startAt) / 1000,
      response.call,
    );
    if (
      this.stream &&
      this.firstChunkAt !== undefined &&
      this.options.timePerOutputChunk &&
      type === undefined &&
      output !== undefined &&
      output > 1
    )
      this.#recordGenAi(
        METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
        METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
        (endAt - this.firstChunkAt) / 1000 / (output - 1),
        response.call,
      );
  }

  /** Records a GenAI metric under its v1.41.1 name, its genai-main name, or both (the `semconv` option). */
  #recordGenAi(v1: string, latest: string, value: number, attributes: Attributes): void {
    if (this.options.emitV1) this.instruments?.record(v1, value, attributes);
    if (this.options.emitLatest) this.instruments?.record(latest, value, attributes);
  }

  /** The terminal failure, recorded once: a log record when a logger is given, else on the span. */
  #recordFailure(error: unknown, type: string, at: number): void {
    const logger = this.options.logger;
    if (!logger) {
      if (this.recording) this.span?.recordException(error instanceof Error ? error : messageOf(error), at);
      return;
    }
    const attributes: Record<string, string> = {
      [ATTR_EXCEPTION_MESSAGE]: messageOf(error),
      [ATTR_ERROR_TYPE]: type,
    };
    if (error instanceof Error) {
      attributes[ATTR_EXCEPTION_TYPE] = error.name;
      if (error.stack !== undefined) attributes[ATTR_EXCEPTION_STACKTRACE] = error.stack;
    }
    try {
      logger.emit({
        eventName: this.description.genAi
          ? EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION
          : EVENT_BULWARK_OPERATION_EXCEPTION,
        timestamp: at,
        severityNumber: SEVERITY_WARN,
        severityText: 'WARN',
        body: messageOf(error),
        attributes,
        context: this.otelContext,
      });
    } catch {
      // A failing logger must not change the call's outcome.
    }
  }
}
