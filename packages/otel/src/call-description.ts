import type { Attributes as CallAttributes } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import { type Attributes, SpanKind } from '@opentelemetry/api';
import { requestAttributes } from './request-attributes.js';
import type { ResolvedOptions } from './resolve-options.js';
import {
  ATTR_BULWARK_ATTEMPT_NUMBER,
  ATTR_BULWARK_CALL_OUTCOME,
  ATTR_BULWARK_EVENT_NAME,
  ATTR_BULWARK_MODEL,
  ATTR_BULWARK_MODEL_LOAD_OUTCOME,
  ATTR_BULWARK_MODEL_LOAD_SOURCE,
  ATTR_BULWARK_OPERATION,
  ATTR_BULWARK_PIPELINE_NAME,
  ATTR_BULWARK_TIMEOUT_PHASE,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_MODALITY,
  ATTR_GEN_AI_TOKEN_TYPE,
  BulwarkEventName,
  CallOutcome,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_OPERATION_GENERATE_CONTENT,
  GEN_AI_OPERATION_TEXT_COMPLETION,
  GEN_AI_PROVIDER_OLLAMA,
  ModelLoadSource,
  SPAN_BULWARK_CALL,
  SPAN_BULWARK_OLLAMA_PREFIX,
} from './semconv.js';
import { parseServerAddress, type ServerAddress } from './server-address.js';

/** Call `operation` attribute → `gen_ai.operation.name`. */
const GEN_AI_OPERATIONS: Readonly<Record<string, string>> = {
  chat: GEN_AI_OPERATION_CHAT,
  generate: GEN_AI_OPERATION_TEXT_COMPLETION,
  embed: GEN_AI_OPERATION_EMBEDDINGS,
  embeddings: GEN_AI_OPERATION_EMBEDDINGS,
  text_completion: GEN_AI_OPERATION_TEXT_COMPLETION,
  generate_content: GEN_AI_OPERATION_GENERATE_CONTENT,
};

/** The port Ollama listens on by default: a GenAI call there is taken for Ollama when no provider is named. */
const OLLAMA_PORT = 11434;

/** Attempt numbers on metrics stop at 5 ("5 or later"); attempt spans 0 to 7 share their start attributes. */
const MAX_ATTEMPT_NUMBER = 5;
const SHARED_ATTEMPT_SPANS = 8;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/**
 * A lookup that makes each key's value once and shares it afterwards; beyond `max` keys it starts
 * again (error types, phases, response models and event names are few).
 */
function keyed<T>(make: (key: string) => T, max = 64): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = make(key);
      if (cache.size >= max) cache.clear();
      cache.set(key, value);
    }
    return value;
  };
}

/** The GenAI metric attributes of a call with a given response model, made once per model. */
function responseAttributes(base: Attributes, responseModel: string | undefined) {
  const call: Attributes =
    responseModel === undefined ? base : { ...base, [ATTR_GEN_AI_RESPONSE_MODEL]: responseModel };
  return {
    /** The call's GenAI metric attributes with `gen_ai.response.model` when the answer names one. */
    call,
    /** `gen_ai.client.token.usage` with `gen_ai.token.type` `input`. */
    inputTokens: { ...call, [ATTR_GEN_AI_TOKEN_TYPE]: 'input' } as Attributes,
    /** `gen_ai.client.token.usage` with `gen_ai.token.type` `output`. */
    outputTokens: { ...call, [ATTR_GEN_AI_TOKEN_TYPE]: 'output' } as Attributes,
    /** `call` with `error.type`. */
    withError: keyed((type): Attributes => ({ ...call, [ATTR_ERROR_TYPE]: type })),
    /** `call` with `gen_ai.token.modality`. */
    modality: keyed((modality): Attributes => ({ ...call, [ATTR_GEN_AI_TOKEN_MODALITY]: modality })),
  };
}

type ResponseAttributes = ReturnType<typeof responseAttributes>;

/** The attributes of one call outcome: `bulwark.calls`, and the per-call counts. */
interface OutcomeAttributes {
  /** `bulwark.calls`: the call's identity, outcome, `error.type` and timeout phase. */
  readonly call: Attributes;
  /** `bulwark.call.attempts` and `bulwark.call.timeouts`: the call's identity and outcome. */
  readonly counts: Attributes;
}

/**
 * What telemetry knows about a call before it runs, from its `operation`, `model`, `host` and
 * `provider`. Calls alike share one description (and its attribute objects), so recording a call
 * allocates no attribute object that an earlier call of the same kind already made.
 */
export class CallDescription {
  /** True for a GenAI call (chat, generate, embeddings) of a known provider. */
  readonly genAi: boolean;
  readonly embeddings: boolean;
  readonly provider: string | undefined;
  readonly server: ServerAddress;
  readonly spanName: string;
  readonly spanKind: SpanKind;
  /** Attributes of the GenAI metrics (GenAI calls) or of `bulwark.pipeline.duration` (others). */
  readonly callMetricAttributes: Attributes;
  /** Attributes of `bulwark.events` and `bulwark.attempt.duration`. */
  readonly policyMetricAttributes: Attributes;
  /** Attributes of `bulwark.model.load.duration` for an answer's `load_duration`. */
  readonly loadAttributes: Attributes;
  /** The operation span's start attributes, before the request's (GenAI calls). */
  readonly #spanAttributes: Attributes;
  /** The call's identity on the per-call outcome metrics. */
  readonly #outcomeIdentity: Attributes;
  readonly #outcomes = new Map<string, OutcomeAttributes>();
  /** Failed attempts' attributes, by error type and attempt number. */
  readonly #failedAttempts = keyed((): Attributes[] => []);
  readonly #attempts: Attributes[] = [];
  readonly #attemptSpans: Attributes[] = [];
  #unnamedResponse: ResponseAttributes | undefined;
  readonly #namedResponse = keyed((model) => responseAttributes(this.callMetricAttributes, model));
  /** `bulwark.events` of a policy event without extra attributes. */
  readonly eventAttributes = keyed(
    (name): Attributes => ({ ...this.policyMetricAttributes, [ATTR_BULWARK_EVENT_NAME]: name }),
  );
  /** `bulwark.events` of a timeout, with its phase. */
  readonly timeoutEventAttributes = keyed(
    (phase): Attributes => ({
      ...this.policyMetricAttributes,
      [ATTR_BULWARK_EVENT_NAME]: BulwarkEventName.Timeout,
      [ATTR_BULWARK_TIMEOUT_PHASE]: phase,
    }),
  );

  constructor(attributes: Readonly<CallAttributes>, options: ResolvedOptions) {
    const operation = text(attributes.operation);
    const model = text(attributes.model);
    const server = parseServerAddress(attributes.host);
    const genAiOperation = operation === undefined ? undefined : GEN_AI_OPERATIONS[operation];
    const namedProvider = text(attributes.provider);
    const provider =
      namedProvider ??
      (genAiOperation !== undefined && server.port === OLLAMA_PORT ? GEN_AI_PROVIDER_OLLAMA : undefined);
    const pipeline: Attributes = { [ATTR_BULWARK_PIPELINE_NAME]: options.name };
    this.genAi = genAiOperation !== undefined && provider !== undefined;
    this.embeddings = this.genAi && genAiOperation === GEN_AI_OPERATION_EMBEDDINGS;
    this.provider = provider;
    this.server = server;
    let loadIdentity: Attributes;
    if (genAiOperation !== undefined && provider !== undefined) {
      const modelAttributes: Attributes = model === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: model };
      const operationAttributes: Attributes = { [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation };
      this.spanName = model === undefined ? genAiOperation : `${genAiOperation} ${model}`;
      this.spanKind = SpanKind.CLIENT;
      this.callMetricAttributes = {
        ...operationAttributes,
        [ATTR_GEN_AI_PROVIDER_NAME]: provider,
        ...modelAttributes,
        ...server.attributes,
      };
      this.policyMetricAttributes = { ...pipeline, ...operationAttributes, ...modelAttributes };
      this.#spanAttributes = this.callMetricAttributes;
      this.#outcomeIdentity = { ...pipeline, ...this.callMetricAttributes };
      loadIdentity = { [ATTR_GEN_AI_PROVIDER_NAME]: provider, ...modelAttributes, ...server.attributes };
    } else {
      const operationAttributes: Attributes =
        operation === undefined ? {} : { [ATTR_BULWARK_OPERATION]: operation };
      const modelAttributes: Attributes = model === undefined ? {} : { [ATTR_BULWARK_MODEL]: model };
      const ollama = namedProvider === GEN_AI_PROVIDER_OLLAMA && operation !== undefined;
      this.spanName = ollama ? `${SPAN_BULWARK_OLLAMA_PREFIX}${operation}` : (operation ?? SPAN_BULWARK_CALL);
      this.spanKind = server.address === '' ? SpanKind.INTERNAL : SpanKind.CLIENT;
      this.callMetricAttributes = { ...pipeline, ...operationAttributes, ...server.attributes };
      this.policyMetricAttributes = { ...pipeline, ...operationAttributes };
      this.#spanAttributes = { ...operationAttributes, ...modelAttributes, ...server.attributes };
      this.#outcomeIdentity = {
        ...pipeline,
        ...operationAttributes,
        ...modelAttributes,
        ...server.attributes,
      };
      loadIdentity = { ...modelAttributes, ...server.attributes };
    }
    this.loadAttributes = {
      ...loadIdentity,
      [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: CallOutcome.Success,
      [ATTR_BULWARK_MODEL_LOAD_SOURCE]: ModelLoadSource.Server,
    };
  }

  /** The attributes an operation span starts with (samplers see them): a GenAI call's with its request's. */
  spanStartAttributes(request: unknown): Attributes {
    const attributes: Attributes = { ...this.#spanAttributes };
    if (this.genAi) requestAttributes(request, attributes);
    return attributes;
  }

  /** The start attributes of an attempt span: its number and the call's server. */
  attemptSpanAttributes(attempt: number): Attributes {
    const shared = attempt < SHARED_ATTEMPT_SPANS;
    let attributes = shared ? this.#attemptSpans[attempt] : undefined;
    if (attributes === undefined) {
      attributes = Object.freeze({ [ATTR_BULWARK_ATTEMPT_NUMBER]: attempt, ...this.server.attributes });
      if (shared) this.#attemptSpans[attempt] = attributes;
    }
    return attributes;
  }

  /** Attributes of the per-call outcome metrics, made once per outcome, error type and phase. */
  outcomeAttributes(outcome: string, type: string | undefined, phase: string | undefined): OutcomeAttributes {
    const key = `${outcome}\u0000${type ?? ''}\u0000${phase ?? ''}`;
    let attributes = this.#outcomes.get(key);
    if (attributes) return attributes;
    const counts: Attributes = { ...this.#outcomeIdentity, [ATTR_BULWARK_CALL_OUTCOME]: outcome };
    const call: Attributes = { ...counts };
    if (type !== undefined) call[ATTR_ERROR_TYPE] = type;
    if (phase !== undefined) call[ATTR_BULWARK_TIMEOUT_PHASE] = phase;
    attributes = { call, counts };
    if (this.#outcomes.size >= 64) this.#outcomes.clear();
    this.#outcomes.set(key, attributes);
    return attributes;
  }

  /** The GenAI metric attributes for an answer from `responseModel` (no string key, no closure per call). */
  responseAttributes(responseModel: string | undefined): ResponseAttributes {
    if (responseModel !== undefined) return this.#namedResponse(responseModel);
    this.#unnamedResponse ??= responseAttributes(this.callMetricAttributes, undefined);
    return this.#unnamedResponse;
  }

  /** `bulwark.attempt.duration`: the policy attributes with the attempt number (5 or later is 5). */
  attemptAttributes(attempt: number, type: string | undefined): Attributes {
    const number = Math.min(attempt, MAX_ATTEMPT_NUMBER);
    this.#attempts[number] ??= { ...this.policyMetricAttributes, [ATTR_BULWARK_ATTEMPT_NUMBER]: number };
    const succeeded = this.#attempts[number];
    if (type === undefined) return succeeded;
    const failed = this.#failedAttempts(type);
    failed[number] ??= { ...succeeded, [ATTR_ERROR_TYPE]: type };
    return failed[number];
  }
}

/** Descriptions kept per set of options; beyond this many kinds of call, the oldest is made again. */
const MAX_DESCRIPTIONS = 256;
interface DescriptionCache {
  /** The last call's identity and description. */
  last:
    | { operation: unknown; model: unknown; host: unknown; provider: unknown; description: CallDescription }
    | undefined;
  byKey: LruMap<string, CallDescription>;
}
const descriptions = new WeakMap<ResolvedOptions, DescriptionCache>();

/**
 * The description of a call with these attributes (`operation`, `model`, `host`, `provider`),
 * shared with every earlier call alike when they are all strings.
 */
export function describeCall(
  attributes: Readonly<CallAttributes>,
  options: ResolvedOptions,
): CallDescription {
  const { operation, model, host, provider } = attributes;
  if (
    (operation !== undefined && typeof operation !== 'string') ||
    (model !== undefined && typeof model !== 'string') ||
    (host !== undefined && typeof host !== 'string') ||
    (provider !== undefined && typeof provider !== 'string')
  )
    return new CallDescription(attributes, options);
  let cache = descriptions.get(options);
  if (!cache) {
    cache = { last: undefined, byKey: new LruMap(MAX_DESCRIPTIONS) };
    descriptions.set(options, cache);
  }
  // Calls in a row are mostly alike: the last description is checked first, without a key.
  const last = cache.last;
  if (
    last !== undefined &&
    last.operation === operation &&
    last.model === model &&
    last.host === host &&
    last.provider === provider
  )
    return last.description;
  const key = `${operation ?? ''}\u0000${model ?? ''}\u0000${host ?? ''}\u0000${provider ?? ''}`;
  let description = cache.byKey.peek(key);
  if (!description) {
    description = new CallDescription(attributes, options);
    cache.byKey.set(key, description);
  }
  cache.last = { operation, model, host, provider, description };
  return description;
}
