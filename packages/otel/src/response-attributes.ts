import type { Attributes, AttributeValue } from '@opentelemetry/api';
import {
  ATTR_BULWARK_OLLAMA_EVAL_DURATION,
  ATTR_BULWARK_OLLAMA_LOAD_DURATION,
  ATTR_BULWARK_OLLAMA_PROMPT_EVAL_DURATION,
  ATTR_BULWARK_OLLAMA_TOTAL_DURATION,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
} from './semconv.js';

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
const seconds = (nanoseconds: unknown): number | undefined =>
  typeof nanoseconds === 'number' && Number.isFinite(nanoseconds) && nanoseconds >= 0
    ? nanoseconds / 1e9
    : undefined;
const nonEmpty = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

function set(into: Attributes, name: string, value: AttributeValue | undefined): void {
  if (value !== undefined) into[name] = value;
}

/**
 * What the value a call resolved with tells, as the operation span's attributes (the metrics read
 * the same object): Ollama's final line (`done_reason`, `prompt_eval_count`, `eval_count`,
 * durations in nanoseconds; `/api/embed` answers with `prompt_eval_count`) or an OpenAI-shaped
 * answer (`usage`, `choices[].finish_reason`). An embeddings answer has no finish reasons or
 * output tokens.
 */
export function summarizeResponse(value: unknown, embeddings: boolean): Attributes | undefined {
  if (!isObject(value)) return undefined;
  const summary: Attributes = {};
  set(summary, ATTR_GEN_AI_RESPONSE_MODEL, nonEmpty(value.model));
  set(summary, ATTR_GEN_AI_RESPONSE_ID, nonEmpty(value.id));
  if (!embeddings && typeof value.done_reason === 'string' && value.done_reason !== '') {
    summary[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [value.done_reason];
  } else if (!embeddings && Array.isArray(value.choices)) {
    const reasons = value.choices
      .map((choice) => (isObject(choice) ? choice.finish_reason : undefined))
      .filter((reason): reason is string => typeof reason === 'string');
    if (reasons.length > 0) summary[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = reasons;
  }
  const usage = isObject(value.usage) ? value.usage : undefined;
  set(
    summary,
    ATTR_GEN_AI_USAGE_INPUT_TOKENS,
    count(value.prompt_eval_count) ?? count(usage?.prompt_tokens ?? usage?.input_tokens),
  );
  if (!embeddings)
    set(
      summary,
      ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
      count(value.eval_count) ?? count(usage?.completion_tokens ?? usage?.output_tokens),
    );
  set(summary, ATTR_BULWARK_OLLAMA_LOAD_DURATION, seconds(value.load_duration));
  set(summary, ATTR_BULWARK_OLLAMA_PROMPT_EVAL_DURATION, seconds(value.prompt_eval_duration));
  set(summary, ATTR_BULWARK_OLLAMA_EVAL_DURATION, seconds(value.eval_duration));
  set(summary, ATTR_BULWARK_OLLAMA_TOTAL_DURATION, seconds(value.total_duration));
  return summary;
}
