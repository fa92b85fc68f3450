import { boolean, type OptionSchema, object, oneOf, validateOptions } from '@bulwark/core/internal';
import type { InstrumentOptions, LoggerLike, SemconvMode } from './types.js';

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly name: string;
  readonly captureContent: boolean;
  /** Emit the v1.41.1 GenAI metric names. */
  readonly emitV1: boolean;
  /** Emit the `semantic-conventions-genai` metric names. */
  readonly emitLatest: boolean;
  readonly timePerOutputChunk: boolean;
  readonly logger: LoggerLike | undefined;
}

const logger = (value: unknown) =>
  typeof value === 'object' && value !== null && typeof (value as LoggerLike).emit === 'function'
    ? undefined
    : 'must be a Logs API logger (an object with emit())';

const nonEmptyString = (value: unknown) =>
  typeof value === 'string' && value !== '' ? undefined : 'must be a non-empty string';

const schema = {
  name: nonEmptyString,
  captureContent: boolean,
  semconv: oneOf('v1.41.1', 'latest', 'both'),
  timePerOutputChunk: boolean,
  logger: (value: unknown) => object(value) ?? logger(value),
} satisfies OptionSchema<InstrumentOptions>;

function environment(name: string): string | undefined {
  return typeof process === 'undefined' ? undefined : process.env[name];
}

/** Validates the options (unknown keys and bad values throw) and fills in defaults from the environment. */
export function resolveOptions(options: InstrumentOptions | undefined, where: string): ResolvedOptions {
  validateOptions(where, options, schema);
  const optIn = (environment('OTEL_SEMCONV_STABILITY_OPT_IN') ?? '').split(',').map((entry) => entry.trim());
  const semconv: SemconvMode =
    options?.semconv ?? (optIn.includes('gen_ai_latest_experimental') ? 'latest' : 'v1.41.1');
  const captureContent =
    options?.captureContent ??
    environment('OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT')?.trim().toLowerCase() === 'true';
  return {
    name: options?.name ?? 'default',
    captureContent,
    emitV1: semconv !== 'latest',
    emitLatest: semconv !== 'v1.41.1',
    timePerOutputChunk: options?.timePerOutputChunk ?? true,
    logger: options?.logger,
  };
}
