import { createHash } from 'node:crypto';
import {
  fullModelName,
  isValidModelName,
  type ModelName,
  modelKey,
  parseModelName,
  shortModelName,
} from './model-name.js';
import type { ModelCapability, ModelSpec, ReplyTokens } from './types.js';
import {
  type Check,
  duration,
  integer,
  nonEmptyString,
  SimOptionError,
  string,
  tokenRange,
  validateOptions,
} from './validate-options.js';

/** The models a simulator serves when none are given. */
export const DEFAULT_MODELS: readonly string[] = ['llama3.2', 'qwen3', 'gemma3', 'nomic-embed-text'];

/** A model as the simulator holds it: the spec with every default resolved. */
export interface SimModel {
  readonly key: string;
  readonly name: ModelName;
  /** `registry.ollama.ai/library/llama3.2:latest` */
  readonly fullName: string;
  /** `llama3.2:latest` */
  readonly shortName: string;
  readonly capabilities: readonly ModelCapability[];
  readonly family: string;
  readonly families: readonly string[];
  readonly parameterSize: string;
  readonly quantizationLevel: string;
  readonly size: number;
  readonly digest: string;
  readonly contextLength: number;
  readonly embeddingLength: number;
  readonly loadMs: number;
  readonly numParallel: number;
  readonly promptEvalMs: number;
  readonly tokenDelayMs: number;
  readonly replyTokens: readonly [number, number];
  readonly modifiedAt: string;
  readonly template: string;
  readonly parameters: string;
  readonly license: string;
  /** `/api/show` fields: the system prompt (set by a create), parser, renderer, minimum Ollama version. */
  readonly system: string;
  readonly parser: string;
  readonly renderer: string;
  readonly requires: string;
}

interface KnownModel {
  family: string;
  parameterSize: string;
  quantizationLevel: string;
  size: number;
  digest: string;
  contextLength: number;
  embeddingLength: number;
  capabilities: ModelCapability[];
  template: string;
  parameters: string;
  license: string;
}

const LLAMA3_TEMPLATE = `<|start_header_id|>system<|end_header_id|>

{{ if .System }}{{ .System }}{{ end }}<|eot_id|>{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>

`;
const CHATML_TEMPLATE = `{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
`;
const GEMMA_TEMPLATE = `{{- range .Messages }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}{{ .Role }}{{ end }}
{{ .Content }}<end_of_turn>
{{ end }}<start_of_turn>model
`;

const KNOWN_MODELS: Record<string, KnownModel> = {
  'llama3.2': {
    family: 'llama',
    parameterSize: '3.2B',
    quantizationLevel: 'Q4_K_M',
    size: 2_019_393_189,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    contextLength: 131_072,
    embeddingLength: 3072,
    capabilities: ['completion', 'tools'],
    template: LLAMA3_TEMPLATE,
    parameters:
      'stop                           "<|start_header_id|>"\nstop                           "<|end_header_id|>"\nstop                           "<|eot_id|>"',
    license: 'LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nLlama 3.2 Version Release Date: September 25, 2024',
  },
  qwen3: {
    family: 'qwen3',
    parameterSize: '8.2B',
    quantizationLevel: 'Q4_K_M',
    size: 5_225_388_164,
    digest: '500a1f067a9f782620b40bee6f7b0c89e17ae61f686b92c24933e4ca4b2b8b41',
    contextLength: 40_960,
    embeddingLength: 4096,
    capabilities: ['completion', 'tools', 'thinking'],
    template: CHATML_TEMPLATE,
    parameters:
      'repeat_penalty                 1\nstop                           "<|im_start|>"\nstop                           "<|im_end|>"\ntemperature                    0.6\ntop_k                          20\ntop_p                          0.95',
    license: 'Apache License\nVersion 2.0, January 2004',
  },
  gemma3: {
    family: 'gemma3',
    parameterSize: '4.3B',
    quantizationLevel: 'Q4_K_M',
    size: 3_338_801_804,
    digest: 'a2af6cc3eb7fa8be8504abaf9b04e88f17a119ec3f04a3addf55f92841195f5a',
    contextLength: 131_072,
    embeddingLength: 2560,
    capabilities: ['completion', 'vision'],
    template: GEMMA_TEMPLATE,
    parameters:
      'stop                           "<end_of_turn>"\ntemperature                    1\ntop_k                          64\ntop_p                          0.95',
    license: 'Gemma Terms of Use\nLast modified: February 21, 2024',
  },
  'nomic-embed-text': {
    family: 'nomic-bert',
    parameterSize: '137M',
    quantizationLevel: 'F16',
    size: 274_302_450,
    digest: '0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f',
    contextLength: 2048,
    embeddingLength: 768,
    capabilities: ['embedding'],
    template: '{{ .Prompt }}',
    parameters: 'num_ctx                        8192',
    license: 'Apache License\nVersion 2.0, January 2004',
  },
  'all-minilm': {
    family: 'bert',
    parameterSize: '23M',
    quantizationLevel: 'F16',
    size: 45_960_996,
    digest: '1b226e2802dbb772b5fc32a58f103ca1804ef7501331012de126ab22f67475ef',
    contextLength: 512,
    embeddingLength: 384,
    capabilities: ['embedding'],
    template: '{{ .Prompt }}',
    parameters: '',
    license: 'Apache License\nVersion 2.0, January 2004',
  },
  'deepseek-r1': {
    family: 'qwen3',
    parameterSize: '8.2B',
    quantizationLevel: 'Q4_K_M',
    size: 5_225_376_047,
    digest: '6995872bfe4c521a67b32da386cd21d5c6e819b6e0d62f79f64ec83be99f5763',
    contextLength: 131_072,
    embeddingLength: 4096,
    capabilities: ['completion', 'tools', 'thinking'],
    template: CHATML_TEMPLATE,
    parameters:
      'stop                           "<｜begin▁of▁sentence｜>"\nstop                           "<｜end▁of▁sentence｜>"\ntemperature                    0.6\ntop_p                          0.95',
    license: 'MIT License\nCopyright (c) 2023 DeepSeek',
  },
  mistral: {
    family: 'llama',
    parameterSize: '7.2B',
    quantizationLevel: 'Q4_K_M',
    size: 4_113_301_824,
    digest: 'f974a74358d62a017b37c6f424fcdf2744ca02926c4f952513ddf474b2fa5091',
    contextLength: 32_768,
    embeddingLength: 4096,
    capabilities: ['completion', 'tools'],
    template: '{{- range .Messages }}[INST] {{ .Content }}[/INST]{{ end }}',
    parameters: 'stop                           "[INST]"\nstop                           "[/INST]"',
    license: 'Apache License\nVersion 2.0, January 2004',
  },
  phi4: {
    family: 'phi3',
    parameterSize: '14.7B',
    quantizationLevel: 'Q4_K_M',
    size: 9_053_116_391,
    digest: 'ac896e5b8b34a1f4efa7b14d7520725140d5512484457fab45d2a4ea14c69dba',
    contextLength: 16_384,
    embeddingLength: 5120,
    capabilities: ['completion'],
    template:
      '{{- range .Messages }}<|im_start|>{{ .Role }}<|im_sep|>{{ .Content }}<|im_end|>{{ end }}<|im_start|>assistant<|im_sep|>',
    parameters:
      'stop                           "<|im_start|>"\nstop                           "<|im_end|>"\nstop                           "<|im_sep|>"',
    license: 'Microsoft.\nCopyright (c) Microsoft Corporation.\n\nMIT License',
  },
};

const CAPABILITIES: readonly ModelCapability[] = [
  'completion',
  'tools',
  'thinking',
  'embedding',
  'vision',
  'insert',
  'audio',
];

const capabilityList: Check = (value) =>
  Array.isArray(value) && value.every((item) => CAPABILITIES.includes(item))
    ? undefined
    : `must be an array of ${CAPABILITIES.map((item) => JSON.stringify(item)).join(', ')}`;

const dateLike: Check = (value) =>
  (value instanceof Date && !Number.isNaN(value.getTime())) ||
  (typeof value === 'string' && !Number.isNaN(Date.parse(value)))
    ? undefined
    : 'must be a Date or a date string';

const MODEL_SPEC_SCHEMA: { readonly [K in keyof ModelSpec]-?: Check } = {
  name: nonEmptyString,
  capabilities: capabilityList,
  family: string,
  parameterSize: string,
  quantizationLevel: string,
  size: integer(0),
  digest: (value) =>
    typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) ? undefined : 'must be 64 lowercase hex digits',
  contextLength: integer(1),
  embeddingLength: integer(1),
  loadMs: duration,
  numParallel: integer(1),
  promptEvalMs: duration,
  tokenDelayMs: duration,
  replyTokens: tokenRange,
  modifiedAt: dateLike,
  system: string,
  parser: string,
  renderer: string,
  requires: string,
};

/** Checks one `models` entry; throws a SimOptionError naming `models[i]...`. */
export function validateModelSpec(where: string, spec: unknown, index: number): void {
  const option = `models[${index}]`;
  if (typeof spec === 'string') {
    if (!isValidModelName(parseModelName(spec))) {
      throw new SimOptionError(
        `${where}: option "${option}" must be a valid model name, got ${JSON.stringify(spec)}`,
        option,
        spec,
      );
    }
    return;
  }
  validateOptions(where, spec, MODEL_SPEC_SCHEMA, `${option}.`);
  const name = (spec as ModelSpec).name;
  if (typeof name !== 'string') {
    throw new SimOptionError(`${where}: option "${option}.name" is required`, `${option}.name`, undefined);
  }
  if (!isValidModelName(parseModelName(name))) {
    throw new SimOptionError(
      `${where}: option "${option}.name" must be a valid model name, got ${JSON.stringify(name)}`,
      `${option}.name`,
      name,
    );
  }
}

/** Defaults a model spec inherits from the simulator options. */
export interface ModelDefaults {
  loadMs: number;
  numParallel: number;
  promptEvalMs: number;
  tokenDelayMs: number;
  replyTokens: ReplyTokens;
}

export const REPLY_TOKENS_DEFAULT: readonly [number, number] = [20, 40];

export const FALLBACK_DEFAULTS: ModelDefaults = {
  loadMs: 0,
  numParallel: 1,
  promptEvalMs: 0,
  tokenDelayMs: 0,
  replyTokens: REPLY_TOKENS_DEFAULT,
};

function tokenRangeOf(tokens: ReplyTokens): readonly [number, number] {
  return typeof tokens === 'number' ? [tokens, tokens] : [tokens[0], tokens[1]];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function knownFor(name: ModelName): KnownModel | undefined {
  return KNOWN_MODELS[name.model.toLowerCase()];
}

/** Resolves a `models` entry into the model the simulator serves. */
export function resolveModel(
  spec: string | ModelSpec,
  defaults: ModelDefaults = FALLBACK_DEFAULTS,
): SimModel {
  const given: ModelSpec = typeof spec === 'string' ? { name: spec } : spec;
  const name = parseModelName(given.name);
  const known = knownFor(name);
  const embedding = known ? known.capabilities.includes('embedding') : /embed/i.test(name.model);
  const capabilities =
    given.capabilities ?? known?.capabilities ?? (embedding ? ['embedding'] : ['completion', 'tools']);
  const family = given.family ?? known?.family ?? (embedding ? 'bert' : 'llama');
  const modifiedAt =
    given.modifiedAt === undefined
      ? '2025-06-01T12:00:00.123456789Z'
      : new Date(given.modifiedAt).toISOString();
  return {
    key: modelKey(name),
    name,
    fullName: fullModelName(name),
    shortName: shortModelName(name),
    capabilities: [...capabilities],
    family,
    families: [family],
    parameterSize: given.parameterSize ?? known?.parameterSize ?? (embedding ? '137M' : '7.2B'),
    quantizationLevel: given.quantizationLevel ?? known?.quantizationLevel ?? (embedding ? 'F16' : 'Q4_K_M'),
    size: given.size ?? known?.size ?? (embedding ? 274_302_450 : 4_113_301_824),
    digest: given.digest ?? (known && name.tag === 'latest' ? known.digest : sha256(fullModelName(name))),
    contextLength: given.contextLength ?? known?.contextLength ?? (embedding ? 2048 : 32_768),
    embeddingLength: given.embeddingLength ?? known?.embeddingLength ?? (embedding ? 768 : 3072),
    loadMs: given.loadMs ?? defaults.loadMs,
    numParallel: given.numParallel ?? defaults.numParallel,
    promptEvalMs: given.promptEvalMs ?? defaults.promptEvalMs,
    tokenDelayMs: given.tokenDelayMs ?? defaults.tokenDelayMs,
    replyTokens: tokenRangeOf(given.replyTokens ?? defaults.replyTokens),
    modifiedAt,
    template: known?.template ?? (embedding ? '{{ .Prompt }}' : LLAMA3_TEMPLATE),
    parameters: known?.parameters ?? '',
    license: known?.license ?? '',
    system: given.system ?? '',
    parser: given.parser ?? '',
    renderer: given.renderer ?? '',
    requires: given.requires ?? '',
  };
}

/** A copy of a model under another name (`/api/copy`, `/api/create`, `/api/pull`). */
export function renameModel(model: SimModel, newName: string): SimModel {
  const name = parseModelName(newName);
  return {
    ...model,
    key: modelKey(name),
    name,
    fullName: fullModelName(name),
    shortName: shortModelName(name),
    modifiedAt: new Date().toISOString(),
  };
}

/** The names with built-in details, for help texts. */
export const KNOWN_MODEL_NAMES = Object.keys(KNOWN_MODELS);
