// POST /api/embed and the legacy POST /api/embeddings (server/routes.go EmbedHandler, EmbeddingsHandler).
import { sleep } from '../cancel-signal.js';
import { checkModelOptions, embeddingRequest, embedRequest } from '../go-decoding/index.js';
import { elapsedNs, float32Shortest, goJson, nowMs } from '../go-json.js';
import type { SimModel } from '../model-catalog.js';
import { type RunnerOptions, runnerOptionsOf } from '../runner-options.js';
import { SchedulerError } from '../scheduler.js';
import { decodeBody, type RouteContext } from '../sim-state.js';
import { countTokens, embeddingFor } from '../simulated-reply.js';
import { schedule } from './generation.js';
import { goQuote, keepAliveMs, lookupModel } from './route-helpers.js';

/** The embedding vectors, answered after a slot and the model's prompt evaluation time. */
export interface EmbedResult {
  readonly vectors: number[][];
  readonly tokens: number;
  readonly totalNs: number;
  readonly loadNs: number;
}

/** Schedules, takes a slot, computes. Answers errors itself and returns undefined then. */
export async function computeEmbeddings(
  context: RouteContext,
  model: SimModel,
  inputs: readonly string[],
  options: {
    keepAlive: number | undefined;
    runnerOptions: RunnerOptions;
    dimensions: number;
    truncate: boolean;
  },
): Promise<EmbedResult | undefined> {
  const { output, signal, record } = context;
  const scheduled = schedule(context, model, options.keepAlive, options.runnerOptions);
  const lease = scheduled instanceof Promise ? await scheduled : scheduled;
  if (!lease) return undefined;
  const loadedAt = nowMs();
  try {
    const slot = lease.acquireSlot(signal);
    if (slot) await slot;
    if (signal.aborted) return undefined;
    if (model.promptEvalMs > 0) await sleep(model.promptEvalMs, signal);
    if (signal.aborted) return undefined;
    let tokens = 0;
    const vectors: number[][] = [];
    for (const input of inputs) {
      const count = countTokens(input);
      if (!options.truncate && count > model.contextLength) {
        await output.error(400, 'the input length exceeds the context length');
        return undefined;
      }
      tokens += Math.min(count, model.contextLength);
      vectors.push(embeddingFor(model, input, options.dimensions));
    }
    const end = nowMs();
    return {
      vectors,
      tokens,
      totalNs: elapsedNs(record.startedAt, end),
      loadNs: elapsedNs(record.startedAt, loadedAt),
    };
  } catch (error) {
    if (error instanceof SchedulerError) {
      await output.error(error.status, error.message);
      return undefined;
    }
    throw error;
  } finally {
    lease.release();
  }
}

/** The `input` of an embed request as a list, or undefined when its type is wrong. */
export function embedInputs(input: unknown): string[] | undefined {
  if (input === undefined || input === null) return [];
  if (typeof input === 'string') return input.length > 0 ? [input] : [];
  if (Array.isArray(input) && input.every((item) => typeof item === 'string')) return input as string[];
  return undefined;
}

export async function handleEmbed(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, embedRequest);
  if (!body) return;
  const { output } = context;
  const lookup = lookupModel(context, body.model);
  if (lookup.kind === 'empty') return output.error(404, "model '' not found");
  if (lookup.kind === 'invalid') return output.error(400, 'invalid model name');
  const inputs = embedInputs(body.input);
  if (!inputs) return output.error(400, 'invalid input type');
  if (lookup.kind === 'unknown')
    return output.error(404, `model ${goQuote(lookup.name)} not found, try pulling it first`);
  const optionError = checkModelOptions(body.options);
  if (optionError) return output.error(500, optionError);
  const { name, model } = lookup;
  const result = await computeEmbeddings(context, model, inputs, {
    keepAlive: keepAliveMs(body.keep_alive),
    runnerOptions: runnerOptionsOf(body.options),
    dimensions: typeof body.dimensions === 'number' ? body.dimensions : 0,
    truncate: body.truncate !== false,
  });
  if (!result) return;
  if (inputs.length === 0) return output.json(200, { model: name, embeddings: [] });
  const embeddings = result.vectors.map((vector) => vector.map(float32Shortest));
  await output.body(
    200,
    'application/json; charset=utf-8',
    goJson({
      model: name,
      embeddings,
      total_duration: result.totalNs,
      load_duration: result.loadNs,
      ...(result.tokens > 0 && { prompt_eval_count: result.tokens }),
    }),
  );
}

export async function handleEmbeddings(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, embeddingRequest);
  if (!body) return;
  const { output } = context;
  const lookup = lookupModel(context, body.model);
  if (lookup.kind === 'empty') return output.error(400, 'model is required');
  if (lookup.kind === 'invalid') return output.error(400, 'invalid model name');
  if (lookup.kind === 'unknown')
    return output.error(404, `model ${goQuote(lookup.name)} not found, try pulling it first`);
  const optionError = checkModelOptions(body.options);
  if (optionError) return output.error(500, optionError);
  const prompt = typeof body.prompt === 'string' ? body.prompt : '';
  const result = await computeEmbeddings(context, lookup.model, prompt === '' ? [] : [prompt], {
    keepAlive: keepAliveMs(body.keep_alive),
    runnerOptions: runnerOptionsOf(body.options),
    dimensions: 0,
    truncate: true,
  });
  if (!result) return;
  await output.json(200, { embedding: result.vectors[0] ?? [] });
}
