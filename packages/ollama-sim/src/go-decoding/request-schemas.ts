// The Go structs Ollama decodes request bodies into (api/types.go, openai/openai.go), reduced to
// what decoding errors depend on.

import { decodeKeepAlive } from '../go-duration.js';
import { type GoType, goAny, goBool, goFloat, goInt, goString } from './go-decode.js';

type StructType = GoType & { kind: 'struct' };

const struct = (
  name: string,
  fields: Record<string, GoType>,
  extra: { aliasName?: string; finish?: (value: Record<string, unknown>) => void; typeName?: string } = {},
): StructType => ({ kind: 'struct', name, typeName: extra.typeName ?? `api.${name}`, fields, ...extra });
const slice = (name: string, of: GoType): GoType => ({ kind: 'slice', name, of });
const anyMap: GoType = { kind: 'map', name: 'map[string]interface {}', of: goAny };
const stringMap: GoType = { kind: 'map', name: 'map[string]string', of: goString };
const imageData: GoType = { kind: 'bytes', name: 'api.ImageData' };

const keepAlive: GoType = {
  kind: 'custom',
  check: (value) => {
    const result = decodeKeepAlive(value);
    return 'error' in result ? result.error : undefined;
  },
};

const THINK_LEVELS = ['high', 'medium', 'low', 'max'];
const think: GoType = {
  kind: 'custom',
  check: (value) => {
    if (typeof value === 'boolean') return undefined;
    if (typeof value === 'string') {
      return THINK_LEVELS.includes(value)
        ? undefined
        : `invalid think value: ${JSON.stringify(value)} (must be "high", "medium", "low", "max", true, or false)`;
    }
    return 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)';
  },
};

const toolCallArguments: GoType = {
  kind: 'custom',
  check: (value) =>
    typeof value === 'object' && !Array.isArray(value)
      ? undefined
      : `json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'bool'} into Go value of type map[string]interface {}`,
};

const toolCall = struct('ToolCall', {
  id: goString,
  function: struct('ToolCallFunction', { index: goInt, name: goString, arguments: toolCallArguments }),
});

const message = struct(
  'Message',
  {
    role: goString,
    content: goString,
    thinking: goString,
    images: slice('[]api.ImageData', imageData),
    tool_calls: slice('[]api.ToolCall', toolCall),
    tool_name: goString,
    tool_call_id: goString,
  },
  {
    aliasName: 'api.Alias',
    finish: (value) => {
      if (typeof value.role === 'string') value.role = value.role.toLowerCase();
    },
  },
);

const tool = struct('Tool', {
  type: goString,
  items: goAny,
  function: struct('ToolFunction', { name: goString, description: goString, parameters: goAny }),
});
const tools = slice('api.Tools', tool);

export const generateRequest = struct('GenerateRequest', {
  model: goString,
  prompt: goString,
  suffix: goString,
  system: goString,
  template: goString,
  context: slice('[]int', goInt),
  stream: goBool,
  raw: goBool,
  format: goAny,
  keep_alive: keepAlive,
  images: slice('[]api.ImageData', imageData),
  options: anyMap,
  think,
  truncate: goBool,
  shift: goBool,
  _debug_render_only: goBool,
  logprobs: goBool,
  top_logprobs: goInt,
});

export const chatRequest = struct('ChatRequest', {
  model: goString,
  messages: slice('[]api.Message', message),
  stream: goBool,
  format: goAny,
  keep_alive: keepAlive,
  tools,
  options: anyMap,
  think,
  truncate: goBool,
  shift: goBool,
  _debug_render_only: goBool,
  logprobs: goBool,
  top_logprobs: goInt,
});

export const embedRequest = struct('EmbedRequest', {
  model: goString,
  input: goAny,
  keep_alive: keepAlive,
  truncate: goBool,
  dimensions: goInt,
  options: anyMap,
});

export const embeddingRequest = struct('EmbeddingRequest', {
  model: goString,
  prompt: goString,
  keep_alive: keepAlive,
  options: anyMap,
});

export const pullRequest = struct('PullRequest', {
  model: goString,
  insecure: goBool,
  username: goString,
  password: goString,
  stream: goBool,
  name: goString,
});

export const pushRequest = struct('PushRequest', {
  model: goString,
  insecure: goBool,
  username: goString,
  password: goString,
  stream: goBool,
  name: goString,
});

export const createRequest = struct('CreateRequest', {
  model: goString,
  stream: goBool,
  quantize: goString,
  from: goString,
  files: stringMap,
  adapters: stringMap,
  template: goString,
  license: goAny,
  system: goString,
  parameters: anyMap,
  messages: slice('[]api.Message', message),
  name: goString,
});

export const deleteRequest = struct('DeleteRequest', { model: goString, name: goString });

export const showRequest = struct('ShowRequest', {
  model: goString,
  system: goString,
  template: goString,
  verbose: goBool,
  options: anyMap,
  name: goString,
});

export const copyRequest = struct('CopyRequest', { source: goString, destination: goString });

const streamOptions = struct(
  'StreamOptions',
  { include_usage: goBool },
  { typeName: 'openai.StreamOptions' },
);

const openaiToolCall = struct(
  'ToolCall',
  {
    id: goString,
    index: goInt,
    type: goString,
    function: struct(
      '',
      { name: goString, arguments: goString },
      { typeName: 'struct { Name string "json:\\"name\\""; Arguments string "json:\\"arguments\\"" }' },
    ),
  },
  { typeName: 'openai.ToolCall' },
);

const openaiMessage = struct(
  'Message',
  {
    role: goString,
    content: goAny,
    reasoning: goString,
    tool_calls: slice('[]openai.ToolCall', openaiToolCall),
    name: goString,
    tool_call_id: goString,
  },
  { typeName: 'openai.Message' },
);

export const openaiChatRequest = struct(
  'ChatCompletionRequest',
  {
    model: goString,
    messages: slice('[]openai.Message', openaiMessage),
    stream: goBool,
    stream_options: streamOptions,
    max_tokens: goInt,
    seed: goInt,
    stop: goAny,
    temperature: goFloat,
    frequency_penalty: goFloat,
    presence_penalty: goFloat,
    top_p: goFloat,
    response_format: struct(
      'ResponseFormat',
      {
        type: goString,
        json_schema: struct('JsonSchema', { schema: goAny }, { typeName: 'openai.JsonSchema' }),
      },
      { typeName: 'openai.ResponseFormat' },
    ),
    tools,
    reasoning: struct('Reasoning', { effort: goString }, { typeName: 'openai.Reasoning' }),
    reasoning_effort: goString,
    logprobs: goBool,
    top_logprobs: goInt,
  },
  { typeName: 'openai.ChatCompletionRequest' },
);

export const openaiCompletionRequest = struct(
  'CompletionRequest',
  {
    model: goString,
    prompt: goString,
    frequency_penalty: goFloat,
    max_tokens: goInt,
    presence_penalty: goFloat,
    seed: goInt,
    stop: goAny,
    stream: goBool,
    stream_options: streamOptions,
    temperature: goFloat,
    top_p: goFloat,
    suffix: goString,
    logprobs: goInt,
  },
  { typeName: 'openai.CompletionRequest' },
);

export const openaiEmbedRequest = struct(
  'EmbedRequest',
  { input: goAny, model: goString, dimensions: goInt, encoding_format: goString },
  { typeName: 'openai.EmbedRequest' },
);

const OPTION_TYPES: Record<string, 'integer' | 'float32' | 'boolean' | 'array'> = {
  num_ctx: 'integer',
  num_batch: 'integer',
  num_gpu: 'integer',
  main_gpu: 'integer',
  use_mmap: 'boolean',
  num_thread: 'integer',
  draft_num_predict: 'integer',
  num_keep: 'integer',
  seed: 'integer',
  num_predict: 'integer',
  top_k: 'integer',
  top_p: 'float32',
  min_p: 'float32',
  typical_p: 'float32',
  repeat_last_n: 'integer',
  temperature: 'float32',
  repeat_penalty: 'float32',
  presence_penalty: 'float32',
  frequency_penalty: 'float32',
  stop: 'array',
};

/**
 * `api.Options.FromMap`: the error Ollama answers (500, from the scheduler) for an option of the
 * wrong type. Unknown options are ignored, as Ollama only logs them.
 */
export function checkModelOptions(options: unknown): string | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  for (const [key, value] of Object.entries(options)) {
    const type = OPTION_TYPES[key];
    if (!type || value === null) continue;
    if (type === 'integer' && typeof value !== 'number') return `option "${key}" must be of type integer`;
    if (type === 'float32' && typeof value !== 'number') return `option "${key}" must be of type float32`;
    if (type === 'boolean' && typeof value !== 'boolean') return `option "${key}" must be of type boolean`;
    if (type === 'array') {
      if (!Array.isArray(value)) return `option "${key}" must be of type array`;
      if (value.some((item) => typeof item !== 'string'))
        return `option "${key}" must be of an array of strings`;
    }
  }
  return undefined;
}
