// POST /api/chat (server/routes.go ChatHandler).

import { chatRequest, checkModelOptions } from '../go-decoding/index.js';
import { rfc3339Nano } from '../go-json.js';
import { logprobsRequested } from '../logprobs.js';
import { runnerOptionsOf } from '../runner-options.js';
import { decodeBody, type RouteContext } from '../sim-state.js';
import { planReply } from '../simulated-reply.js';
import type { ReplyRequest } from '../types.js';
import { type GenerationEncoder, runGeneration } from './generation.js';
import { ChatEncoder } from './ollama-encoders.js';
import {
  answerLoad,
  formatError,
  goQuote,
  keepAliveMs,
  lookupModel,
  thinkRequested,
} from './route-helpers.js';

export async function handleChat(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, chatRequest);
  if (!body) return;
  await chat(context, body);
}

/** The chat flow after decoding; `/v1/chat/completions` enters here with a converted body. */
export async function chat(
  context: RouteContext,
  body: Record<string, unknown>,
  encoderFor: (name: string, logprobs: number | undefined) => GenerationEncoder = (name, logprobs) =>
    new ChatEncoder(name, logprobs),
): Promise<void> {
  const { output } = context;
  const topLogprobs = typeof body.top_logprobs === 'number' ? body.top_logprobs : 0;
  if (topLogprobs < 0 || topLogprobs > 20) return output.error(400, 'top_logprobs must be between 0 and 20');
  const lookup = lookupModel(context, body.model);
  if (lookup.kind === 'empty') return output.error(400, 'model is required');
  if (lookup.kind === 'invalid') return output.error(400, 'invalid model name');
  if (lookup.kind === 'unknown') return output.error(404, `model '${lookup.name}' not found`);
  const { name, model } = lookup;
  const messages = Array.isArray(body.messages)
    ? (body.messages as ReplyRequest['messages'] & unknown[])
    : [];
  const keepAlive = keepAliveMs(body.keep_alive);
  if (messages.length === 0 && keepAlive === 0) {
    context.sim.scheduler.expire(model);
    return output.json(200, {
      model: name,
      created_at: rfc3339Nano(),
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'unload',
    });
  }
  const tools = Array.isArray(body.tools) ? (body.tools as NonNullable<ReplyRequest['tools']>) : [];
  const think = body.think;
  const thinks = model.capabilities.includes('thinking');
  if (!thinks && thinkRequested(think))
    return output.error(400, `${goQuote(name)} does not support thinking`);
  if (!model.capabilities.includes('completion'))
    return output.error(400, `${goQuote(name)} does not support chat`);
  if (tools.length > 0 && !model.capabilities.includes('tools')) {
    return output.error(400, `${model.fullName} does not support tools`);
  }
  const optionError = checkModelOptions(body.options);
  if (optionError) return output.error(500, optionError);
  const runnerOptions = runnerOptionsOf(body.options);
  if (messages.length === 0) {
    return answerLoad(context, model, keepAlive, runnerOptions, {
      model: name,
      created_at: rfc3339Nano(),
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: 'load',
    });
  }
  const request: ReplyRequest = {
    model: name,
    messages,
    options: (body.options ?? undefined) as ReplyRequest['options'],
    think: think as ReplyRequest['think'],
    format: (body.format ?? undefined) as ReplyRequest['format'],
    tools,
  };
  const plan = planReply(request, model);
  const runnerError = formatError(body.format);
  await runGeneration(context, {
    model,
    plan,
    encoder: encoderFor(name, logprobsRequested(body)),
    stream: body.stream !== false,
    keepAliveMs: keepAlive,
    runnerOptions,
    runnerError,
  });
}
