/** What the final answer of a call tells: model, usage, finish reasons, server timings. */
export interface ResponseSummary {
  model?: string;
  id?: string;
  finishReasons?: string[];
  inputTokens?: number;
  outputTokens?: number;
  /** Ollama's timings, in seconds. */
  loadSeconds?: number;
  promptEvalSeconds?: number;
  evalSeconds?: number;
  totalSeconds?: number;
}

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
const seconds = (nanoseconds: unknown): number | undefined =>
  typeof nanoseconds === 'number' && Number.isFinite(nanoseconds) && nanoseconds >= 0
    ? nanoseconds / 1e9
    : undefined;

/**
 * Reads the value a call resolved with: Ollama's final line (`done: true`, `done_reason`,
 * `prompt_eval_count`, `eval_count`, durations in nanoseconds; `/api/embed` answers with
 * `prompt_eval_count`) or an OpenAI-shaped answer (`usage`, `choices[].finish_reason`).
 */
export function summarizeResponse(value: unknown): ResponseSummary | undefined {
  if (!isObject(value)) return undefined;
  const summary: ResponseSummary = {};
  if (typeof value.model === 'string' && value.model !== '') summary.model = value.model;
  if (typeof value.id === 'string' && value.id !== '') summary.id = value.id;
  if (typeof value.done_reason === 'string' && value.done_reason !== '') {
    summary.finishReasons = [value.done_reason];
  } else if (Array.isArray(value.choices)) {
    const reasons = value.choices
      .map((choice) => (isObject(choice) ? choice.finish_reason : undefined))
      .filter((reason): reason is string => typeof reason === 'string');
    if (reasons.length > 0) summary.finishReasons = reasons;
  }
  const usage = isObject(value.usage) ? value.usage : undefined;
  summary.inputTokens = count(value.prompt_eval_count) ?? count(usage?.prompt_tokens ?? usage?.input_tokens);
  summary.outputTokens = count(value.eval_count) ?? count(usage?.completion_tokens ?? usage?.output_tokens);
  summary.loadSeconds = seconds(value.load_duration);
  summary.promptEvalSeconds = seconds(value.prompt_eval_duration);
  summary.evalSeconds = seconds(value.eval_duration);
  summary.totalSeconds = seconds(value.total_duration);
  return summary;
}
