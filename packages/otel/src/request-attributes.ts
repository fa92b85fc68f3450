import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
  ATTR_GEN_AI_OUTPUT_TYPE,
  ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  ATTR_GEN_AI_REQUEST_SEED,
  ATTR_GEN_AI_REQUEST_STOP_SEQUENCES,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_K,
  ATTR_GEN_AI_REQUEST_TOP_P,
} from './semconv.js';

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

const NO_OPTIONS: Fields = Object.freeze({});

/** Numeric parameters, read from Ollama's `options`, else from the request itself (OpenAI's shape). */
const NUMBERS: readonly (readonly [string, string])[] = [
  ['temperature', ATTR_GEN_AI_REQUEST_TEMPERATURE],
  ['top_p', ATTR_GEN_AI_REQUEST_TOP_P],
  ['top_k', ATTR_GEN_AI_REQUEST_TOP_K],
  ['seed', ATTR_GEN_AI_REQUEST_SEED],
  ['frequency_penalty', ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY],
  ['presence_penalty', ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY],
];

const withImages = (fields: unknown): boolean =>
  isObject(fields) && Array.isArray(fields.images) && fields.images.length > 0;

/** True when a chat or generate request carries images (its token modality is then not just text). */
export function hasImages(request: unknown): boolean {
  return (
    withImages(request) ||
    (isObject(request) && Array.isArray(request.messages) && request.messages.some(withImages))
  );
}

/** True when the request object asks for a stream (`stream: true`). */
export function isStreamRequest(request: unknown): boolean {
  return isObject(request) && request.stream === true;
}

/**
 * The GenAI request attributes of a request object: Ollama's (`options.temperature`,
 * `options.num_predict`, ...) or an OpenAI-shaped one (`temperature`, `max_tokens`, ...). Reads
 * parameters only: never prompts, messages or headers.
 */
export function requestAttributes(request: unknown, into: Attributes): void {
  if (!isObject(request)) return;
  const options: Fields = isObject(request.options) ? request.options : NO_OPTIONS;

  for (const [name, attribute] of NUMBERS) {
    const value = options[name] ?? request[name];
    if (finite(value)) into[attribute] = value;
  }
  const maxTokens = options.num_predict ?? request.max_completion_tokens ?? request.max_tokens;
  // Ollama: -1 means no limit, -2 fill the context; neither is a token count.
  if (finite(maxTokens) && maxTokens > 0) into[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = maxTokens;
  const stop = options.stop ?? request.stop;
  if (typeof stop === 'string') into[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [stop];
  else if (Array.isArray(stop) && stop.every((entry) => typeof entry === 'string'))
    into[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = stop as string[];
  if (request.stream === true) into[ATTR_GEN_AI_REQUEST_STREAM] = true;
  const format =
    request.format ?? (isObject(request.response_format) ? request.response_format.type : undefined);
  if (format === 'json' || format === 'json_object' || format === 'json_schema' || isObject(format))
    into[ATTR_GEN_AI_OUTPUT_TYPE] = 'json';
  const dimensions = request.dimensions;
  if (finite(dimensions)) into[ATTR_GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions;
}
