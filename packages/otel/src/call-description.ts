import type { Attributes as CallAttributes } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import { type Attributes, SpanKind } from '@opentelemetry/api';
import { isStreamRequest, requestAttributes } from './request-attributes.js';
import type { ResolvedOptions } from './resolve-options.js';
import {
  ATTR_BULWARK_CALL_OUTCOME,
  ATTR_BULWARK_MODEL,
  ATTR_BULWARK_MODEL_LOAD_OUTCOME,
  ATTR_BULWARK_OPERATION,
  ATTR_BULWARK_PIPELINE_NAME,
  ATTR_BULWARK_TIMEOUT_PHASE,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  CallOutcome,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_OPERATION_EMBEDDINGS,
  GEN_AI_OPERATION_GENERATE_CONTENT,
  GEN_AI_OPERATION_TEXT_COMPLETION,
  GEN_AI_PROVIDER_OLLAMA,
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
  /** Attributes of `bulwark.model.load.duration`. */
  readonly loadAttributes: Attributes;
  /** Attributes of the per-call outcome metrics, made once per outcome, error type and phase. */
  outcomeAttributes(outcome: string, type: string | undefined, phase: string | undefined): OutcomeAttributes;
  /**
   * An attribute set derived from this description's, made by `make` the first time `key` is asked
   * for and shared afterwards (response model, error type, attempt number, event name...).
   */
  derive(key: string, make: () => Attributes): Attributes;
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

/** Descriptions kept per set of options; beyond this many kinds of call, the oldest is made again. */
const MAX_DESCRIPTIONS = 256;
const descriptions = new WeakMap<ResolvedOptions, LruMap<string, CallDescription>>();

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
    cache = new LruMap(MAX_DESCRIPTIONS);
    descriptions.set(options, cache);
  }
  const key = `${operation ?? ''}\u0000${model ?? ''}\u0000${host ?? ''}\u0000${provider ?? ''}`;
  let description = cache.peek(key);
  if (!description) {
    description = makeDescription(attributes, options);
    cache.set(key, description);
  }
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
      policyMetricAttributes: {
        [ATTR_BULWARK_PIPELINE_NAME]: options.name,
        [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation,
        ...modelAttributes,
      },
      loadAttributes: {
        [ATTR_GEN_AI_PROVIDER_NAME]: provider,
        ...modelAttributes,
        ...serverAttributes,
        [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: CallOutcome.Success,
      },
      outcomeAttributes: outcomeCache({
        [ATTR_BULWARK_PIPELINE_NAME]: options.name,
        ...callMetricAttributes,
      }),
      derive: deriveCache(),
    };
  }

  const ollama = namedProvider === GEN_AI_PROVIDER_OLLAMA && operation !== undefined;
  const operationAttributes: Attributes =
    operation === undefined ? {} : { [ATTR_BULWARK_OPERATION]: operation };
  const modelAttributes: Attributes = model === undefined ? {} : { [ATTR_BULWARK_MODEL]: model };
  return {
    genAi,
    operationName: operation,
    embeddings: false,
    provider,
    model,
    server,
    spanName: ollama ? `${SPAN_BULWARK_OLLAMA_PREFIX}${operation}` : (operation ?? SPAN_BULWARK_CALL),
    spanKind: server.address === '' ? SpanKind.INTERNAL : SpanKind.CLIENT,
    callMetricAttributes: {
      [ATTR_BULWARK_PIPELINE_NAME]: options.name,
      ...operationAttributes,
      ...serverAttributes,
    },
    policyMetricAttributes: { [ATTR_BULWARK_PIPELINE_NAME]: options.name, ...operationAttributes },
    loadAttributes: {
      ...modelAttributes,
      ...serverAttributes,
      [ATTR_BULWARK_MODEL_LOAD_OUTCOME]: CallOutcome.Success,
    },
    outcomeAttributes: outcomeCache({
      [ATTR_BULWARK_PIPELINE_NAME]: options.name,
      ...operationAttributes,
      ...modelAttributes,
      ...serverAttributes,
    }),
    derive: deriveCache(),
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
