// Checks shared by the generating routes, with Ollama's texts.
import { decodeKeepAlive } from '../go-duration.js';
import { goString } from '../go-json.js';
import type { SimModel } from '../model-catalog.js';
import type { RunnerOptions } from '../runner-options.js';
import type { RouteContext } from '../sim-state.js';
import { schedule } from './generation.js';

/** `fmt.Sprintf("%q", s)` for the strings model names are made of. */
export function goQuote(text: string): string {
  return goString(text);
}

/** What a model field resolved to. */
export type ModelLookup =
  | { kind: 'empty' }
  | { kind: 'invalid' }
  | { kind: 'unknown'; name: string }
  | { kind: 'found'; name: string; model: SimModel };

const EMPTY: ModelLookup = { kind: 'empty' };
const INVALID: ModelLookup = { kind: 'invalid' };

/** Resolves the model a request names, as `parseAndValidateModelRef` + `getModel` do. */
export function lookupModel(context: RouteContext, value: unknown): ModelLookup {
  const name = typeof value === 'string' ? value : '';
  if (name.trim() === '') return EMPTY;
  const { valid, model } = context.sim.lookup(name);
  if (!valid) return INVALID;
  return model ? { kind: 'found', name, model } : { kind: 'unknown', name };
}

/** `keep_alive` in ms (already validated by the decoder), or undefined when absent. */
export function keepAliveMs(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const result = decodeKeepAlive(value);
  return 'ms' in result ? result.ms : undefined;
}

/** The runner's error for a `format` that is neither "json" nor a schema object, else undefined. */
export function formatError(format: unknown): string | undefined {
  if (format === undefined || format === null || format === '' || format === 'json') return undefined;
  if (typeof format === 'object' && !Array.isArray(format)) return undefined;
  const raw = JSON.stringify(format);
  return `invalid format: ${goQuote(raw)}; expected "json" or a valid JSON Schema object`;
}

/** Whether the model thinks for this `think` value: thinking models think unless told not to. */
export function thinkRequested(think: unknown): boolean {
  return think === true || typeof think === 'string';
}

/**
 * An empty request loads the model and answers `done_reason: "load"` (a plain JSON body, even
 * when streaming was asked for).
 */
export async function answerLoad(
  context: RouteContext,
  model: SimModel,
  keepAlive: number | undefined,
  runnerOptions: RunnerOptions,
  body: Record<string, unknown>,
): Promise<void> {
  const scheduled = schedule(context, model, keepAlive, runnerOptions);
  const lease = scheduled instanceof Promise ? await scheduled : scheduled;
  if (!lease) return;
  try {
    await context.output.json(200, body);
  } finally {
    lease.release();
  }
}
