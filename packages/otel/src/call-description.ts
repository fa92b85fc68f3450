import type { Attributes as CallAttributes } from '@bulwark/core';
import { type Attributes, SpanKind } from '@opentelemetry/api';
import { isStreamRequest, requestAttributes } from './request-attributes.js';
import type { ResolvedOptions } from './resolve-options.js';
import {
  ATTR_BULWARK_MODEL,
  ATTR_BULWARK_OPERATION,
  ATTR_BULWARK_PIPELINE_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
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

/** What telemetry knows about a call before it runs. */
export interface CallDescription {
  /** True for a GenAI call (chat, generate, embeddings) of a known provider. */
  readonly genAi: boolean;
  /** `gen_ai.operation.name` for GenAI calls, else the call's `operation` attribute. */
  readonly operationName: string | undefined;
  readonly embeddings: boolean;
  readonly provider: string | undefined;
  readonly model: string | undefined;
  readonly server: ServerAddress;
  /** The request object the client passed in `attributes.request`, if any. */
  readonly request: unknown;
  /** The request asks for a stream. */
  readonly stream: boolean;
  readonly spanName: string;
  readonly spanKind: SpanKind;
  /** Attributes of the GenAI metrics (GenAI calls) or of `bulwark.pipeline.duration` (others). */
  readonly callMetricAttributes: Attributes;
  /** Attributes of `bulwark.events` and `bulwark.attempt.duration`. */
  readonly policyMetricAttributes: Attributes;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Reads a call's attributes (`operation`, `model`, `host`, `provider`, `request`). */
export function describeCall(
  attributes: Readonly<CallAttributes>,
  options: ResolvedOptions,
): CallDescription {
  const operation = text(attributes.operation);
  const model = text(attributes.model);
  const server = parseServerAddress(attributes.host);
  const genAiOperation = operation === undefined ? undefined : GEN_AI_OPERATIONS[operation];
  const namedProvider = text(attributes.provider);
  const provider =
    namedProvider ??
    (genAiOperation !== undefined && server.port === OLLAMA_PORT ? GEN_AI_PROVIDER_OLLAMA : undefined);
  const genAi = genAiOperation !== undefined && provider !== undefined;
  const request = attributes.request;

  const serverAttributes: Attributes = {};
  if (server.address !== '') {
    serverAttributes[ATTR_SERVER_ADDRESS] = server.address;
    if (server.port !== undefined) serverAttributes[ATTR_SERVER_PORT] = server.port;
  }

  if (genAi) {
    const callMetricAttributes: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation,
      [ATTR_GEN_AI_PROVIDER_NAME]: provider,
      ...(model === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: model }),
      ...serverAttributes,
    };
    return {
      genAi,
      operationName: genAiOperation,
      embeddings: genAiOperation === GEN_AI_OPERATION_EMBEDDINGS,
      provider,
      model,
      server,
      request,
      stream: isStreamRequest(request) || attributes.stream === true,
      spanName: model === undefined ? genAiOperation : `${genAiOperation} ${model}`,
      spanKind: SpanKind.CLIENT,
      callMetricAttributes,
      policyMetricAttributes: {
        [ATTR_BULWARK_PIPELINE_NAME]: options.name,
        [ATTR_GEN_AI_OPERATION_NAME]: genAiOperation,
        ...(model === undefined ? {} : { [ATTR_GEN_AI_REQUEST_MODEL]: model }),
      },
    };
  }

  const ollama = namedProvider === GEN_AI_PROVIDER_OLLAMA && operation !== undefined;
  const operationAttributes: Attributes =
    operation === undefined ? {} : { [ATTR_BULWARK_OPERATION]: operation };
  return {
    genAi,
    operationName: operation,
    embeddings: false,
    provider,
    model,
    server,
    request,
    stream: isStreamRequest(request) || attributes.stream === true,
    spanName: ollama ? `${SPAN_BULWARK_OLLAMA_PREFIX}${operation}` : (operation ?? SPAN_BULWARK_CALL),
    spanKind: server.address === '' ? SpanKind.INTERNAL : SpanKind.CLIENT,
    callMetricAttributes: {
      [ATTR_BULWARK_PIPELINE_NAME]: options.name,
      ...operationAttributes,
      ...serverAttributes,
    },
    policyMetricAttributes: { [ATTR_BULWARK_PIPELINE_NAME]: options.name, ...operationAttributes },
  };
}

/** The attributes an operation span starts with (samplers see them). */
export function spanStartAttributes(description: CallDescription): Attributes {
  const attributes: Attributes = {};
  if (description.genAi) {
    Object.assign(attributes, description.callMetricAttributes);
    requestAttributes(description.request, attributes);
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
