// POST /api/generate (server/routes.go GenerateHandler).

import { checkModelOptions, generateRequest } from '../go-decoding/index.js';
import { rfc3339Nano } from '../go-json.js';
import { logprobsRequested } from '../logprobs.js';
import { runnerOptionsOf } from '../runner-options.js';
import { decodeBody, type RouteContext } from '../sim-state.js';
import { planReply } from '../simulated-reply.js';
import type { ReplyRequest } from '../types.js';
import { type GenerationEncoder, runGeneration } from './generation.js';
import { GenerateEncoder } from './ollama-encoders.js';
import {
  answerLoad,
  formatError,
  goQuote,
  keepAliveMs,
  lookupModel,
  thinkRequested,
} from './route-helpers.js';

export async function handleGenerate(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, generateRequest);
  if (!body) return;
  await generate(context, body);
}

/** The generate flow after decoding; `/v1/completions` enters here with a converted body. */
export async function generate(
  context: RouteContext,
  body: Record<string, unknown>,
  encoderFor: (name: string, raw: boolean, logprobs: number | undefined) => GenerationEncoder = (
    name,
    raw,
    logprobs,
  ) => new GenerateEncoder(name, raw, logprobs),
): Promise<void> {
  const { output } = context;
  const topLogprobs = typeof body.top_logprobs === 'number' ? body.top_logprobs : 0;
  if (topLogprobs < 0 || topLogprobs > 20) return output.error(400, 'top_logprobs must be between 0 and 20');
  const lookup = lookupModel(context, body.model);
  if (lookup.kind === 'empty') return output.error(404, "model '' not found");
  if (lookup.kind === 'invalid') return output.error(400, 'invalid model name');
  if (lookup.kind === 'unknown') return output.error(404, `model '${lookup.name}' not found`);
  const { name, model } = lookup;
  const prompt = typeof body.prompt === 'string' ? body.prompt : '';
  const keepAlive = keepAliveMs(body.keep_alive);
  if (prompt === '' && keepAlive === 0) {
    context.sim.scheduler.expire(model);
    return output.json(200, {
      model: name,
      created_at: rfc3339Nano(),
      response: '',
      done: true,
      done_reason: 'unload',
    });
  }
  const raw = body.raw === true;
  const hasContext = Array.isArray(body.context) && body.context.length > 0;
  if (
    raw &&
    ((typeof body.template === 'string' && body.template !== '') ||
      (typeof body.system === 'string' && body.system !== '') ||
      hasContext)
  ) {
    return output.error(400, 'raw mode does not support template, system, or context');
  }
  const suffix = typeof body.suffix === 'string' ? body.suffix : '';
  const think = body.think;
  if (!model.capabilities.includes('thinking') && thinkRequested(think)) {
    return output.error(400, `${goQuote(name)} does not support thinking`);
  }
  if (!model.capabilities.includes('completion'))
    return output.error(400, `${goQuote(name)} does not support generate`);
  if (suffix !== '' && !model.capabilities.includes('insert')) {
    return output.error(400, `${model.fullName} does not support insert`);
  }
  const optionError = checkModelOptions(body.options);
  if (optionError) return output.error(500, optionError);
  const runnerOptions = runnerOptionsOf(body.options);
  if (prompt === '') {
    return answerLoad(context, model, keepAlive, runnerOptions, {
      model: name,
      created_at: rfc3339Nano(),
      response: '',
      done: true,
      done_reason: 'load',
    });
  }
  const request: ReplyRequest = {
    model: name,
    prompt,
    ...(typeof body.system === 'string' && { system: body.system }),
    ...(suffix !== '' && { suffix }),
    options: (body.options ?? undefined) as ReplyRequest['options'],
    think: think as ReplyRequest['think'],
    format: (body.format ?? undefined) as ReplyRequest['format'],
  };
  const plan = planReply(request, model);
  const runnerError = formatError(body.format);
  await runGeneration(context, {
    model,
    plan,
    encoder: encoderFor(name, raw, logprobsRequested(body)),
    stream: body.stream !== false,
    keepAliveMs: keepAlive,
    runnerOptions,
    runnerError,
  });
}
