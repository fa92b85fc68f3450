import type { Attributes as CallAttributes } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import { type Attributes, SpanKind } from '@opentelemetry/api';
import { isStreamRequest, requestAttributes } from './request-attributes.js';
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
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
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

/** The attributes of one call outcome: `bulwark.calls`, and the per-call counts. */
export interface OutcomeAttributes {
  /** `bulwark.calls`: the call's identity, outcome, `error.type` and timeout phase. */
  readonly call: Attributes;
  /** `bulwark.call.attempts` and `bulwark.call.timeouts`: the call's identity and outcome. */
  readonly counts: Attributes;
}

/** The GenAI metric attributes of a call with a given response model, made once per model. */
export interface ResponseAttributes {
  /** The call's GenAI metric attributes with `gen_ai.response.model` when the answer names one. */
  readonly call: Attributes;
  /** `gen_ai.client.token.usage` with `gen_ai.token.type` `input`. */
  readonly inputTokens: Attributes;
  /** `gen_ai.client.token.usage` with `gen_ai.token.type` `output`. */
  readonly outputTokens: Attributes;
  /** {@link ResponseAttributes.call} with `error.type`. */
  withError(type: string): Attributes;
  /** {@link ResponseAttributes.call} with `gen_ai.token.modality`. */
  modality(modality: string): Attributes;
}

/**
 * What telemetry knows about a call before it runs, from its `operation`, `model`, `host` and
 * `provider`. Calls alike share one description (and its attribute objects), so recording a call
 * allocates no attribute object that an earlier call of the same kind already made.
 */
export interface CallDescription {
  /** True for a GenAI call (chat, generate, embeddings) of a known provider. */
  readonly genAi: boolean;
  /** `gen_ai.operation.name` for GenAI calls, else the call's `operation` attribute. */
  readonly operationName: string | undefined;
  readonly embeddings: boolean;
  readonly provider: string | undefined;
  readonly model: string | undefined;
  readonly server: ServerAddress;
  readonly spanName: string;
  readonly spanKind: SpanKind;
  /** Attributes of the GenAI metrics (GenAI calls) or of `bulwark.pipeline.duration` (others). */
  readonly callMetricAttributes: Attributes;
  /** Attributes of `bulwark.events` and `bulwark.attempt.duration`. */
  readonly policyMetricAttributes: Attributes;
  /** Attributes of `bulwark.model.load.duration` for an answer's `load_duration`. */
  readonly loadAttributes: Attributes;
  /** Attributes of the per-call outcome metrics, made once per outcome, error type and phase. */
  outcomeAttributes(outcome: string, type: string | undefined, phase: string | undefined): OutcomeAttributes;
  /**
   * An attribute set derived from this description's, made by `make` the first time `key` is asked
   * for and shared afterwards (response model, error type, attempt number, event name...).
   */
  derive(key: string, make: () => Attributes): Attributes;
  /** The GenAI metric attributes for an answer from `responseModel` (no string key, no closure per call). */
  responseAttributes(responseModel: string | undefined): ResponseAttributes;
  /** `bulwark.attempt.duration` of a successful attempt: the policy attributes with the attempt number. */
  attemptAttributes(number: number): Attributes;
  /** `bulwark.events` of a policy event without extra attributes. */
  eventAttributes(name: string): Attributes;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Outcome attribute sets kept per description; error types and phases are few. */
const MAX_OUTCOMES = 64;

function outcomeCache(identity: Attributes): CallDescription['outcomeAttributes'] {
  const cache = new Map<string, OutcomeAttributes>();
  return (outcome, type, phase) => {
    const key = `${outcome}\u0000${type ?? ''}\u0000${phase ?? ''}`;
    let attributes = cache.get(key);
    if (attributes) return attributes;
    const counts: Attributes = { ...identity, [ATTR_BULWARK_CALL_OUTCOME]: outcome };
    const call: Attributes = { ...counts };
    if (type !== undefined) call[ATTR_ERROR_TYPE] = type;
    if (phase !== undefined) call[ATTR_BULWARK_TIMEOUT_PHASE] = phase;
    attributes = { call, counts };
    if (cache.size >= MAX_OUTCOMES) cache.clear();
    cache.set(key, attributes);
    return attributes;
  };
}

/** Derived attribute sets kept per description; beyond this many, they are made again. */
const MAX_DERIVED = 256;

function deriveCache(): CallDescription['derive'] {
  const cache = new Map<string, Attributes>();
  return (key, make) => {
    let attributes = cache.get(key);
    if (attributes) return attributes;
    attributes = make();
    if (cache.size >= MAX_DERIVED) cache.clear();
    cache.set(key, attributes);
    return attributes;
  };
}

/** Response models and event names kept per description; beyond this many, they are made again. */
const MAX_KEYED = 64;

function keyed<T>(make: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let value = cache.get(key);
    if (value !== undefined) return value;
    value = make(key);
    if (cache.size >= MAX_KEYED) cache.clear();
    cache.set(key, value);
    return value;
  };
}

function makeResponseAttributes(base: Attributes, responseModel: string | undefined): ResponseAttributes {
  const call: Attributes =
    responseModel === undefined ? base : { ...base, [ATTR_GEN_AI_RESPONSE_MODEL]: responseModel };
  return {
    call,
    inputTokens: { ...call, [ATTR_GEN_AI_TOKEN_TYPE]: 'input' },
    outputTokens: { ...call, [ATTR_GEN_AI_TOKEN_TYPE]: 'output' },
    withError: keyed((type) => ({ ...call, [ATTR_ERROR_TYPE]: type })),
    modality: keyed((modality) => ({ ...call, [ATTR_GEN_AI_TOKEN_MODALITY]: modality })),
  };
}

function responseCache(base: Attributes): CallDescription['responseAttributes'] {
  let unnamed: ResponseAttributes | undefined;
  const named = keyed((model) => makeResponseAttributes(base, model));
  return (responseModel) => {
    if (responseModel !== undefined) return named(responseModel);
    unnamed ??= makeResponseAttributes(base, undefined);
    return unnamed;
  };
}

/** Attempt numbers on `bulwark.attempt.duration` stop at 5 ("5 or later"). */
const MAX_ATTEMPT_NUMBER = 5;

function attemptCache(base: Attributes): CallDescription['attemptAttributes'] {
  const byNumber: Attributes[] = [];
  return (number) => {
    const index = Math.min(number, MAX_ATTEMPT_NUMBER);
    let attributes = byNumber[index];
    if (attributes === undefined) {
      attributes = { ...base, [ATTR_BULWARK_ATTEMPT_NUMBER]: index };
      byNumber[index] = attributes;
    }
    return attributes;
  };
}

/** Descriptions kept per set of options; beyond this many kinds of call, the oldest is made again. */
const MAX_DESCRIPTIONS = 256;
interface DescriptionCache {
  /** The last call's identity and description. */
  last:
    | {
        operation: unknown;
        model: unknown;
        host: unknown;
        provider: unknown;
        description: CallDescription;
      }
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
    return makeDescription(attributes, options);
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
    description = makeDescription(attributes, options);
    cache.byKey.set(key, description);
  }
  cache.last = { operation, model, host, provider, description };
  return description;
}

function makeDescription(attributes: Readonly<CallAttributes>, options: ResolvedOptions): CallDescription {
  const operation = text(attributes.operation);
  const model = text(attributes.model);
  const server = parseServerAddress(attributes.host);
  const genAiOperation = operation === undefined ? undefined : GEN_AI_OPERATIONS[operation];
  const namedProvider = text(attributes.provider);
  const provider =
    namedProvider ??
    (genAiOperation !== undefined && server.port === OLLAMA_PORT ? GEN_AI_PROVIDER_OLLAMA : undefined);
  const genAi = genAiOperation !== undefined && provider !== undefined;

  const serverAttributes: Attributes = {};
  if (server.address !== '') {
    serverAttributes[ATTR_SERVER_ADDRESS] = server.address;
    if (server.port !== undefined) serverAttributes[ATTR_SERVER_PORT] = server.port;
  }

  if (genAi) {
    const modelAttributes: Attributes = model === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: model };
    const callMetricAttributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation,
      [ATTR_GEN_AI_PROVIDER_NAME]: provider,
      ...modelAttributes,
      ...serverAttributes,
    };
    const policyMetricAttributes: Attributes = {
      [ATTR_BULWARK_PIPELINE_NAME]: options.name,
      [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation,
      ...modelAttributes,
    };
    return {
      genAi,
      operationName: genAiOperation,
      embeddings: genAiOperation === GEN_AI_OPERATION_EMBEDDINGS,
      provider,
      model,
      server,
      spanName: model === undefined ? genAiOperation : `${genAiOperation} ${model}`,
      spanKind: SpanKind.CLIENT,
      callMetricAttributes,
      policyMetricAttributes,
      loadAttributes: {
        [ATTR_GEN_AI_PROVIDER_NAME]: provider,
        ...modelAttributes,
        ...serverAttributes,
        [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: CallOutcome.Success,
        [ATTR_BULWARK_MODEL_LOAD_SOURCE]: ModelLoadSource.Server,
      },
      outcomeAttributes: outcomeCache({
        [ATTR_BULWARK_PIPELINE_NAME]: options.name,
        ...callMetricAttributes,
      }),
      derive: deriveCache(),
      responseAttributes: responseCache(callMetricAttributes),
      attemptAttributes: attemptCache(policyMetricAttributes),
      eventAttributes: keyed((name) => ({ ...policyMetricAttributes, [ATTR_BULWARK_EVENT_NAME]: name })),
    };
  }

  const ollama = namedProvider === GEN_AI_PROVIDER_OLLAMA && operation !== undefined;
  const operationAttributes: Attributes =
    operation === undefined ? {} : { [ATTR_BULWARK_OPERATION]: operation };
  const modelAttributes: Attributes = model === undefined ? {} : { [ATTR_BULWARK_MODEL]: model };
  const callMetricAttributes: Attributes = {
    [ATTR_BULWARK_PIPELINE_NAME]: options.name,
    ...operationAttributes,
    ...serverAttributes,
  };
  const policyMetricAttributes: Attributes = {
    [ATTR_BULWARK_PIPELINE_NAME]: options.name,
    ...operationAttributes,
  };
  return {
    genAi,
    operationName: operation,
    embeddings: false,
    provider,
    model,
    server,
    spanName: ollama ? `${SPAN_BULWARK_OLLAMA_PREFIX}${operation}` : (operation ?? SPAN_BULWARK_CALL),
    spanKind: server.address === '' ? SpanKind.INTERNAL : SpanKind.CLIENT,
    callMetricAttributes,
    policyMetricAttributes,
    loadAttributes: {
      ...modelAttributes,
      ...serverAttributes,
      [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: CallOutcome.Success,
      [ATTR_BULWARK_MODEL_LOAD_SOURCE]: ModelLoadSource.Server,
    },
    outcomeAttributes: outcomeCache({
      [ATTR_BULWARK_PIPELINE_NAME]: options.name,
      ...operationAttributes,
      ...modelAttributes,
      ...serverAttributes,
    }),
    derive: deriveCache(),
    responseAttributes: responseCache(callMetricAttributes),
    attemptAttributes: attemptCache(policyMetricAttributes),
    eventAttributes: keyed((name) => ({ ...policyMetricAttributes, [ATTR_BULWARK_EVENT_NAME]: name })),
  };
}

/** True when the call asks for a stream (its request's `stream: true`, or a `stream: true` attribute). */
export function isStreamCall(attributes: Readonly<CallAttributes>): boolean {
  return isStreamRequest(attributes.request) || attributes.stream === true;
}

/** The attributes an operation span starts with (samplers see them). */
export function spanStartAttributes(description: CallDescription, request: unknown): Attributes {
  const attributes: Attributes = {};
  if (description.genAi) {
    Object.assign(attributes, description.callMetricAttributes);
    requestAttributes(request, attributes);
    return attributes;
  }
  if (description.operationName !== undefined) attributes[ATTR_BULWARK_OPERATION] = description.operationName;
  if (description.model !== undefined) attributes[ATTR_BULWARK_MODEL] = description.model;
  if (description.server.address !== '') {
    attributes[ATTR_SERVER_ADDRESS] = description.server.address;
    if (description.server.port !== undefined) attributes[ATTR_SERVER_PORT] = description.server.port;
  }
  return attributes;
}
