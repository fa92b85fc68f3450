// OpenAI-compatible routes: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models,
// /v1/models/:model (middleware/openai.go over the native handlers).

import { openaiChatRequest, openaiCompletionRequest, openaiEmbedRequest } from '../go-decoding/index.js';
import { float32Shortest, goJson } from '../go-json.js';
import { isValidModelName, parseModelName, shortModelName } from '../model-name.js';
import { decodeBody, type RouteContext } from '../sim-state.js';
import { chat } from './chat.js';
import { computeEmbeddings } from './embed.js';
import { generate } from './generate.js';
import {
  OPENAI_DIALECT,
  OPENAI_MIDDLEWARE_DIALECT,
  OpenaiChatEncoder,
  OpenaiCompletionEncoder,
} from './openai-encoders.js';
import { goQuote } from './route-helpers.js';

const JSON_TYPE = 'application/json';

/** Go's `%T` for a decoded JSON value. */
function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'number') return 'float64';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value)) return '[]interface {}';
  return 'map[string]interface {}';
}

const REASONING: Record<string, string | boolean | undefined> = {
  '': undefined,
  none: false,
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  max: 'max',
  xhigh: 'max',
  ultra: 'max',
};

type Converted = { body: Record<string, unknown> } | { error: string };

/** `openai.FromChatRequest`. */
function fromChatRequest(request: Record<string, unknown>): Converted {
  const messages: Record<string, unknown>[] = [];
  for (const raw of request.messages as Record<string, unknown>[]) {
    const message = raw ?? {};
    const role = typeof message.role === 'string' ? message.role : '';
    const content = message.content;
    const toolCalls = Array.isArray(message.tool_calls)
      ? (message.tool_calls as Record<string, unknown>[]).map((call) => {
          const fn = (call?.function ?? {}) as Record<string, unknown>;
          let args: unknown = {};
          try {
            args = typeof fn.arguments === 'string' && fn.arguments !== '' ? JSON.parse(fn.arguments) : {};
          } catch {
            args = {};
          }
          return { id: call?.id, function: { name: fn.name, arguments: args } };
        })
      : undefined;
    if (typeof content === 'string') {
      messages.push({ role, content, ...(toolCalls && { tool_calls: toolCalls }) });
    } else if (Array.isArray(content)) {
      for (const part of content) {
        const data = part as Record<string, unknown>;
        if (typeof data !== 'object' || data === null) return { error: 'invalid message format' };
        if (data.type === 'text') {
          if (typeof data.text !== 'string') return { error: 'invalid message format' };
          messages.push({ role, content: data.text });
        } else if (data.type === 'image_url' || data.type === 'input_audio') {
          messages.push({ role, content: '' });
        } else {
          return { error: 'invalid message format' };
        }
      }
    } else {
      if (!toolCalls) return { error: `invalid message content type: ${goTypeName(content)}` };
      messages.push({ role, content: '', tool_calls: toolCalls });
    }
  }
  const options: Record<string, unknown> = {};
  if (typeof request.stop === 'string') options.stop = [request.stop];
  else if (Array.isArray(request.stop))
    options.stop = request.stop.filter((item) => typeof item === 'string');
  if (typeof request.max_tokens === 'number') options.num_predict = request.max_tokens;
  options.temperature = typeof request.temperature === 'number' ? request.temperature : 1;
  if (typeof request.seed === 'number') options.seed = request.seed;
  if (typeof request.frequency_penalty === 'number') options.frequency_penalty = request.frequency_penalty;
  if (typeof request.presence_penalty === 'number') options.presence_penalty = request.presence_penalty;
  options.top_p = typeof request.top_p === 'number' ? request.top_p : 1;
  let format: unknown;
  const responseFormat = request.response_format as Record<string, unknown> | null | undefined;
  if (responseFormat) {
    const type = String(responseFormat.type ?? '')
      .trim()
      .toLowerCase();
    if (type === 'json_object') format = 'json';
    if (type === 'json_schema')
      format = (responseFormat.json_schema as Record<string, unknown> | undefined)?.schema;
  }
  const reasoning = request.reasoning as Record<string, unknown> | null | undefined;
  const effort = reasoning
    ? String(reasoning.effort ?? '')
    : typeof request.reasoning_effort === 'string'
      ? request.reasoning_effort
      : '';
  if (!Object.hasOwn(REASONING, effort)) {
    return {
      error: `invalid reasoning value: ${goQuote(effort)} (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")`,
    };
  }
  const think = REASONING[effort];
  return {
    body: {
      model: request.model,
      messages,
      options,
      stream: request.stream === true,
      ...(format !== undefined && { format }),
      ...(Array.isArray(request.tools) && { tools: request.tools }),
      ...(think !== undefined && { think }),
    },
  };
}

export async function handleChatCompletions(context: RouteContext): Promise<void> {
  const { output } = context;
  output.useDialect(OPENAI_MIDDLEWARE_DIALECT);
  const request = await decodeBody(context, openaiChatRequest, 'EOF');
  if (!request) return;
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    return output.error(400, "[] is too short - 'messages'");
  }
  const converted = fromChatRequest(request);
  if ('error' in converted) return output.error(400, converted.error);
  output.useDialect(OPENAI_DIALECT);
  const includeUsage = (request.stream_options as Record<string, unknown> | null)?.include_usage === true;
  await chat(context, converted.body, (name) => new OpenaiChatEncoder(name, includeUsage));
}

export async function handleCompletions(context: RouteContext): Promise<void> {
  const { output } = context;
  output.useDialect(OPENAI_MIDDLEWARE_DIALECT);
  const request = await decodeBody(context, openaiCompletionRequest, 'EOF');
  if (!request) return;
  const options: Record<string, unknown> = {};
  if (typeof request.stop === 'string') options.stop = [request.stop];
  else if (Array.isArray(request.stop)) {
    const bad = request.stop.find((item) => typeof item !== 'string');
    if (bad !== undefined) return output.error(400, `invalid type for 'stop' field: ${goTypeName(bad)}`);
    options.stop = request.stop;
  }
  if (typeof request.max_tokens === 'number') options.num_predict = request.max_tokens;
  options.temperature = typeof request.temperature === 'number' ? request.temperature : 1;
  if (typeof request.seed === 'number') options.seed = request.seed;
  options.frequency_penalty = typeof request.frequency_penalty === 'number' ? request.frequency_penalty : 0;
  options.presence_penalty = typeof request.presence_penalty === 'number' ? request.presence_penalty : 0;
  options.top_p = typeof request.top_p === 'number' && request.top_p !== 0 ? request.top_p : 1;
  const includeUsage = (request.stream_options as Record<string, unknown> | null)?.include_usage === true;
  output.useDialect(OPENAI_DIALECT);
  await generate(
    context,
    {
      model: request.model,
      prompt: typeof request.prompt === 'string' ? request.prompt : '',
      options,
      stream: request.stream === true,
      ...(typeof request.suffix === 'string' && request.suffix !== '' && { suffix: request.suffix }),
    },
    (name) => new OpenaiCompletionEncoder(name, includeUsage),
  );
}

function floatsToBase64(values: readonly number[]): string {
  const buffer = Buffer.alloc(values.length * 4);
  for (const [index, value] of values.entries()) buffer.writeFloatLE(value, index * 4);
  return buffer.toString('base64');
}

export async function handleOpenaiEmbeddings(context: RouteContext): Promise<void> {
  const { output, sim } = context;
  output.useDialect(OPENAI_MIDDLEWARE_DIALECT);
  const request = await decodeBody(context, openaiEmbedRequest, 'EOF');
  if (!request) return;
  const encoding = typeof request.encoding_format === 'string' ? request.encoding_format : '';
  if (encoding !== '' && encoding.toLowerCase() !== 'float' && encoding.toLowerCase() !== 'base64') {
    return output.error(
      400,
      `Invalid value for 'encoding_format' = ${encoding}. Supported values: ['float', 'base64'].`,
    );
  }
  let input = request.input;
  if (input === '') input = [''];
  if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) {
    return output.error(400, 'invalid input');
  }
  output.useDialect(OPENAI_DIALECT);
  const inputs =
    typeof input === 'string'
      ? [input]
      : Array.isArray(input) && input.every((item) => typeof item === 'string')
        ? (input as string[])
        : undefined;
  if (!inputs) return output.error(400, 'invalid input type');
  const name = typeof request.model === 'string' ? request.model : '';
  if (name.trim() === '') return output.error(404, "model '' not found");
  if (!isValidModelName(parseModelName(name.trim()))) return output.error(400, 'invalid model name');
  const model = sim.find(name);
  if (!model) return output.error(404, `model ${goQuote(name)} not found, try pulling it first`);
  const result = await computeEmbeddings(context, model, inputs, {
    keepAlive: undefined,
    runnerOptions: {},
    dimensions: typeof request.dimensions === 'number' ? request.dimensions : 0,
    truncate: true,
  });
  if (!result) return;
  const base64 = encoding.toLowerCase() === 'base64';
  const body = {
    object: 'list',
    data: result.vectors.map((vector, index) => ({
      object: 'embedding',
      embedding: base64 ? floatsToBase64(vector) : vector.map(float32Shortest),
      index,
    })),
    model: name,
    usage: { prompt_tokens: result.tokens, total_tokens: result.tokens },
  };
  await output.body(200, JSON_TYPE, `${goJson(body)}\n`);
}

function modelEntry(id: string, modifiedAt: string) {
  return {
    id,
    object: 'model',
    created: Math.floor(Date.parse(modifiedAt) / 1000),
    owned_by: parseModelName(id).namespace,
  };
}

export async function handleOpenaiModels(context: RouteContext): Promise<void> {
  const models = [...context.sim.models.values()];
  const data =
    models.length === 0 ? null : models.map((model) => modelEntry(model.shortName, model.modifiedAt));
  await context.output.body(200, JSON_TYPE, `${goJson({ object: 'list', data })}\n`);
}

export async function handleOpenaiModel(context: RouteContext): Promise<void> {
  const { output } = context;
  output.useDialect(OPENAI_DIALECT);
  const id = context.params.model ?? '';
  const parsed = parseModelName(id);
  if (!isValidModelName(parsed)) return output.error(400, 'invalid model name');
  const model = context.sim.find(id);
  if (!model) return output.error(404, `model '${shortModelName(parsed)}' not found`);
  await output.body(200, JSON_TYPE, `${goJson(modelEntry(id, model.modifiedAt))}\n`);
}
