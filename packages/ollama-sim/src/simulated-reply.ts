// Deterministic answers: the same model, messages (or prompt) and seed always give the same
// tokens, so a test can compare what a client assembled with what the simulator sent.
import { FALLBACK_DEFAULTS, resolveModel, type SimModel } from './model-catalog.js';
import type { ModelSpec, ReplyRequest, SimulatedReply, SimulatedToolCall } from './types.js';
import { SimOptionError } from './validate-options.js';

const WORDS = (
  'the a of and to in is that it for on with as was be by this are from at or an not have which one all ' +
  'their there been has more when will would can if no out so what up about into than them some could ' +
  'time these two may then do first any my now such like other over only new just where most also after ' +
  'made many before must through back years much way well down should because each just those people ' +
  'model answer token stream server request latency budget retry circuit breaker bulkhead timeout signal ' +
  'queue slot load prompt context window memory cache network socket packet deadline policy attempt ' +
  'quick brown fox jumps lazy dog river mountain forest ocean cloud rain light shadow garden stone ' +
  'simple careful steady gentle bright quiet rapid distant hidden golden silver ancient modern ' +
  'build measure observe compare explain consider improve reduce protect recover handle deliver'
).split(' ');

/** Words that exercise escaping and multi-byte UTF-8 in every layer a chunk crosses. */
const SPECIAL_WORDS = [
  '<b>',
  'R&D',
  'a>b',
  'café',
  'naïve',
  'über',
  '日本語',
  '🙂',
  '"quoted"',
  'back\\slash',
  '–',
  '½',
];

const THINKING_OPENERS = ['Okay', 'Let', 'Hmm', 'First', 'So'];

/** 32-bit FNV-1a over UTF-16 code units. */
export function hashText(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** mulberry32: small, fast, good enough for text. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  }

  /** Whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

const tokenPattern = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;

/** Rough token count of a text: words and punctuation marks. */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  let total = 0;
  tokenPattern.lastIndex = 0;
  while (tokenPattern.exec(text) !== null) total++;
  return total;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** `count` text tokens; the last is a full stop. */
function textTokens(random: Random, count: number, opener?: string): string[] {
  const tokens: string[] = [];
  if (count <= 0) return tokens;
  let sentenceLeft = 0;
  let afterBreak = true;
  let startOfSentence = true;
  if (opener !== undefined) {
    tokens.push(opener);
    afterBreak = false;
    startOfSentence = false;
    sentenceLeft = random.int(4, 10);
  }
  while (tokens.length < count - 1) {
    if (sentenceLeft === 0 && !startOfSentence) {
      tokens.push(random.pick(['.', '.', '.', '!', '?']));
      startOfSentence = true;
      if (random.next() < 0.15 && tokens.length < count - 2) {
        tokens.push('\n\n');
        afterBreak = true;
      }
      continue;
    }
    if (startOfSentence) sentenceLeft = random.int(5, 14);
    let word = random.next() < 0.06 ? random.pick(SPECIAL_WORDS) : random.pick(WORDS);
    if (startOfSentence) word = capitalize(word);
    tokens.push(afterBreak ? word : ` ${word}`);
    afterBreak = false;
    startOfSentence = false;
    sentenceLeft--;
    if (sentenceLeft > 2 && random.next() < 0.08) tokens.push(',');
  }
  tokens.push('.');
  return tokens;
}

const jsonPiece = /\s*[^\s{}[\]:,"]{1,8}|\s*[{}[\]:,"]|\s+/gy;

/** Splits JSON text into token-sized pieces whose concatenation is the text. */
export function splitJsonTokens(text: string): string[] {
  const pieces: string[] = [];
  jsonPiece.lastIndex = 0;
  while (jsonPiece.lastIndex < text.length) {
    const match = jsonPiece.exec(text);
    if (!match) break;
    pieces.push(match[0]);
  }
  return pieces;
}

function words(random: Random, min: number, max: number): string {
  const count = random.int(min, max);
  const out: string[] = [];
  for (let index = 0; index < count; index++) out.push(random.pick(WORDS));
  return capitalize(out.join(' '));
}

/** A value that satisfies a (simple) JSON schema: types, properties, items, enum, const, bounds. */
export function valueForSchema(schema: unknown, random: Random, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 6) return words(random, 1, 3);
  const node = schema as Record<string, unknown>;
  if ('const' in node) return node.const;
  if (Array.isArray(node.enum) && node.enum.length > 0) return random.pick(node.enum);
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const options = node[key];
    if (Array.isArray(options) && options.length > 0) {
      const usable =
        options.find((option) => (option as Record<string, unknown>)?.type !== 'null') ?? options[0];
      return valueForSchema(usable, random, depth + 1);
    }
  }
  let type = node.type;
  if (Array.isArray(type)) type = type.find((item) => item !== 'null') ?? type[0];
  if (type === undefined && typeof node.properties === 'object') type = 'object';
  if (type === undefined && node.items !== undefined) type = 'array';
  switch (type) {
    case 'object': {
      const result: Record<string, unknown> = {};
      const properties = (node.properties ?? {}) as Record<string, unknown>;
      for (const [key, property] of Object.entries(properties)) {
        result[key] = valueForSchema(property, random, depth + 1);
      }
      return result;
    }
    case 'array': {
      const min = typeof node.minItems === 'number' ? node.minItems : 2;
      const max = typeof node.maxItems === 'number' ? node.maxItems : Math.max(min, 3);
      const length = Math.min(random.int(min, Math.max(min, Math.min(max, min + 1))), 50);
      return Array.from({ length }, () => valueForSchema(node.items, random, depth + 1));
    }
    case 'integer': {
      const min = typeof node.minimum === 'number' ? Math.ceil(node.minimum) : 0;
      const max = typeof node.maximum === 'number' ? Math.floor(node.maximum) : min + 100;
      return random.int(min, Math.max(min, max));
    }
    case 'number': {
      const min = typeof node.minimum === 'number' ? node.minimum : 0;
      const max = typeof node.maximum === 'number' ? node.maximum : min + 100;
      return Math.round((min + random.next() * (max - min)) * 100) / 100;
    }
    case 'boolean':
      return random.next() < 0.5;
    case 'null':
      return null;
    default: {
      if (node.format === 'date') return '2025-06-01';
      if (node.format === 'date-time') return '2025-06-01T12:00:00Z';
      if (node.format === 'email') return 'user@example.com';
      if (node.format === 'uri' || node.format === 'url') return 'https://example.com/';
      return words(random, 1, 4);
    }
  }
}

/** Chat messages as Ollama sees them: OpenAI content parts become one message each. */
export function normalizeMessages(messages: ReplyRequest['messages']): { role: string; content: string }[] {
  const out: { role: string; content: string }[] = [];
  for (const message of messages ?? []) {
    const role = typeof message.role === 'string' ? message.role.toLowerCase() : '';
    const content = message.content as unknown;
    if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown })?.text;
        out.push({ role, content: typeof text === 'string' ? text : '' });
      }
    } else {
      out.push({ role, content: typeof content === 'string' ? content : '' });
    }
  }
  return out;
}

/** Everything the routes need to stream an answer. */
export interface ReplyPlan extends SimulatedReply {
  /** Tokens generated without output (a tool call being buffered), before the tool-call line. */
  silentTokens: number;
  /** Token ids for generate's `context`. */
  context(): number[];
}

function wantsThinking(request: ReplyRequest, model: SimModel): boolean {
  if (!model.capabilities.includes('thinking')) return false;
  return request.think === undefined || request.think === null ? true : request.think !== false;
}

function promptTokens(request: ReplyRequest): number {
  if (request.messages !== undefined) {
    let total = 1;
    for (const message of normalizeMessages(request.messages)) total += countTokens(message.content) + 4;
    return total;
  }
  return (
    countTokens(request.system ?? '') +
    countTokens(request.prompt ?? '') +
    countTokens(request.suffix ?? '') +
    5
  );
}

function seedText(request: ReplyRequest, model: SimModel): string {
  let body = '';
  if (request.messages !== undefined) {
    for (const message of request.messages) {
      const role = typeof message.role === 'string' ? message.role.toLowerCase() : '';
      const content = message.content as unknown;
      if (typeof content === 'string') {
        body += `${role}\u0001${content}\u0002`;
      } else if (Array.isArray(content)) {
        for (const part of content) {
          const text = (part as { text?: unknown })?.text;
          body += `${role}\u0001${typeof text === 'string' ? text : ''}\u0002`;
        }
      } else {
        body += `${role}\u0001\u0002`;
      }
    }
  } else {
    body = `${request.system ?? ''}\u0001${request.prompt ?? ''}\u0001${request.suffix ?? ''}`;
  }
  const seed = request.options?.seed;
  return `${model.shortName.toLowerCase()}\u0000${body}\u0000${typeof seed === 'number' ? seed : ''}`;
}

function limitOf(request: ReplyRequest): number {
  const limit = request.options?.num_predict;
  return typeof limit === 'number' && limit > 0 ? Math.floor(limit) : Number.POSITIVE_INFINITY;
}

const planCache = new Map<string, ReplyPlan>();
const PLAN_CACHE_SIZE = 1024;
const CACHEABLE_TOKENS = 2048;

/**
 * Plans the answer to a chat or generate request for an already resolved model. Plain text
 * answers are cached: the same request (as benchmarks send) is planned once.
 */
/** `options.stop`: the non-empty stop sequences. */
function stopsOf(request: ReplyRequest): string[] {
  const stop = request.options?.stop;
  return Array.isArray(stop)
    ? stop.filter((item): item is string => typeof item === 'string' && item !== '')
    : [];
}

/**
 * Cuts the answer at the first stop sequence, as the runner does: the text before it is sent, the
 * stop sequence and everything after it are not, and generation ends there (`done_reason: "stop"`).
 * Returns the chunks to send and the tokens generated (up to the one completing the stop), or
 * undefined when no stop sequence occurs.
 */
function cutAtStop(
  chunks: readonly string[],
  stops: readonly string[],
): { chunks: string[]; generated: number } | undefined {
  if (stops.length === 0) return undefined;
  const text = chunks.join('');
  let at = -1;
  let end = -1;
  for (const stop of stops) {
    const index = text.indexOf(stop);
    if (index >= 0 && (at < 0 || index < at)) {
      at = index;
      end = index + stop.length;
    }
  }
  if (at < 0) return undefined;
  const kept: string[] = [];
  let offset = 0;
  let generated = 0;
  for (const chunk of chunks) {
    if (offset >= end) break;
    generated++;
    if (offset < at) {
      const piece = chunk.slice(0, Math.max(0, at - offset));
      if (piece !== '') kept.push(piece);
    }
    offset += chunk.length;
  }
  return { chunks: kept, generated };
}

export function planReply(request: ReplyRequest, model: SimModel): ReplyPlan {
  const text = seedText(request, model);
  const plain =
    (request.tools === undefined || request.tools.length === 0) &&
    (request.format === undefined || request.format === null || request.format === '');
  if (!plain) return buildPlan(request, model, text);
  const key = `${text}\u0004${stopsOf(request).join('\u0005')}\u0004${limitOf(request)}\u0004${wantsThinking(request, model)}\u0004${model.replyTokens[0]},${model.replyTokens[1]}\u0004${request.messages === undefined ? 'g' : 'c'}`;
  const cached = planCache.get(key);
  if (cached) return cached;
  const plan = buildPlan(request, model, text);
  if (plan.evalCount <= CACHEABLE_TOKENS) {
    if (planCache.size >= PLAN_CACHE_SIZE) planCache.clear();
    planCache.set(key, plan);
  }
  return plan;
}

function buildPlan(request: ReplyRequest, model: SimModel, text: string): ReplyPlan {
  const seed = hashText(text);
  const random = new Random(seed);
  const [min, max] = model.replyTokens;
  const natural = random.int(min, max);
  const limit = limitOf(request);
  let budget = limit;

  let thinkingChunks: string[] = [];
  if (wantsThinking(request, model)) {
    const thinkingRandom = new Random(seed ^ 0x5bd1e995);
    const planned = textTokens(
      thinkingRandom,
      Math.max(2, Math.ceil(natural / 2)),
      thinkingRandom.pick(THINKING_OPENERS),
    );
    thinkingChunks = planned.slice(0, Math.min(planned.length, budget));
    budget -= thinkingChunks.length;
  }

  let chunks: string[] = [];
  let toolCalls: SimulatedToolCall[] | undefined;
  let silentTokens = 0;
  let cut = thinkingChunks.length < (wantsThinking(request, model) ? Math.max(2, Math.ceil(natural / 2)) : 0);
  const lastRole = request.messages?.[request.messages.length - 1]?.role;
  const tools = request.tools ?? [];

  if (!cut && tools.length > 0 && request.messages !== undefined && lastRole !== 'tool') {
    const toolRandom = new Random(seed ^ 0x27d4eb2f);
    const tool = toolRandom.pick(tools);
    const argumentsValue = valueForSchema(
      tool.function.parameters ?? { type: 'object', properties: {} },
      toolRandom,
    );
    const callArguments = (
      typeof argumentsValue === 'object' && argumentsValue !== null && !Array.isArray(argumentsValue)
        ? argumentsValue
        : {}
    ) as Record<string, unknown>;
    const raw = JSON.stringify({ name: tool.function.name, arguments: callArguments });
    const rawTokens = splitJsonTokens(raw);
    if (rawTokens.length <= budget) {
      const letters = 'abcdefghijklmnopqrstuvwxyz0123456789';
      // `toolCallId()`: "call_" and eight lower-case letters or digits.
      let id = 'call_';
      for (let index = 0; index < 8; index++) id += letters[Math.floor(toolRandom.next() * letters.length)];
      toolCalls = [{ id, function: { index: 0, name: tool.function.name, arguments: callArguments } }];
      silentTokens = rawTokens.length;
    } else {
      chunks = rawTokens.slice(0, budget);
      cut = true;
    }
  } else if (!cut) {
    let planned: string[];
    if (request.format !== undefined && request.format !== null && request.format !== '') {
      const formatRandom = new Random(seed ^ 0x165667b1);
      const value =
        typeof request.format === 'object'
          ? valueForSchema(request.format, formatRandom)
          : { answer: textTokens(formatRandom, Math.max(2, natural - 6)).join('') };
      planned = splitJsonTokens(JSON.stringify(value));
    } else {
      // Past the budget nothing is kept: plan only a little beyond it (the same tokens up to it),
      // not a model's whole natural length, which may be a million tokens.
      planned = textTokens(random, Math.min(natural, budget + 3));
    }
    chunks = planned.length > budget ? planned.slice(0, budget) : planned;
    cut = planned.length > budget;
  }

  let generated = chunks.length;
  if (!toolCalls) {
    const stopped = cutAtStop(chunks, stopsOf(request));
    if (stopped) {
      chunks = stopped.chunks;
      generated = stopped.generated;
      cut = false;
    }
  }
  const content = chunks.join('');
  const thinking = thinkingChunks.join('');
  const evalCount = thinkingChunks.length + generated + silentTokens;
  const promptEvalCount = promptTokens(request);
  const plan: ReplyPlan = {
    content,
    chunks,
    thinkingChunks,
    doneReason: cut ? 'length' : 'stop',
    evalCount,
    promptEvalCount,
    silentTokens,
    context() {
      const total = promptEvalCount + evalCount;
      const ids = new Array<number>(total);
      let value = seed;
      for (let index = 0; index < total; index++) {
        value = (Math.imul(value ^ (value >>> 13), 0x5bd1e995) + index) >>> 0;
        ids[index] = value % 128_256;
      }
      return ids;
    },
  };
  if (thinkingChunks.length > 0) plan.thinking = thinking;
  if (toolCalls) plan.toolCalls = toolCalls;
  return plan;
}

/**
 * Exactly what the simulator generates for a chat body (with `messages`) or a generate body (with
 * `prompt`): content, thinking, tool calls and the chunks in order. Call it as
 * `simulatedReply(request)`, `simulatedReply(request, model)` or `simulatedReply(model, request)`,
 * where `model` is the model's name or spec as given to the simulator (default: the request's
 * `model`). The simulator's default `replyTokens` is assumed unless the spec sets one; for a
 * simulator started with other defaults use its own `sim.simulatedReply()`.
 */
export function simulatedReply(request: ReplyRequest, model?: string | ModelSpec): SimulatedReply;
export function simulatedReply(model: string | ModelSpec, request: ReplyRequest): SimulatedReply;
export function simulatedReply(
  first: ReplyRequest | string | ModelSpec,
  second?: ReplyRequest | string | ModelSpec,
): SimulatedReply {
  const modelFirst =
    typeof first === 'string' || (typeof second === 'object' && ('messages' in second || 'prompt' in second));
  const request = (modelFirst ? second : first) as ReplyRequest | undefined;
  const spec = (modelFirst ? first : second) as string | ModelSpec | undefined;
  if (!request || typeof request !== 'object')
    throw new SimOptionError('simulatedReply: a chat or generate request is required', 'request', request);
  const model = spec ?? request.model;
  if (model === undefined)
    throw new SimOptionError('simulatedReply: the request has no model and none was given', 'model', model);
  return publicReply(planReply(request, resolveModel(model, FALLBACK_DEFAULTS)));
}

/** The public part of a plan. */
export function publicReply(plan: ReplyPlan): SimulatedReply {
  const reply: SimulatedReply = {
    content: plan.content,
    chunks: [...plan.chunks],
    thinkingChunks: [...plan.thinkingChunks],
    doneReason: plan.doneReason,
    evalCount: plan.evalCount,
    promptEvalCount: plan.promptEvalCount,
  };
  if (plan.thinking !== undefined) reply.thinking = plan.thinking;
  if (plan.toolCalls !== undefined) reply.toolCalls = structuredClone(plan.toolCalls);
  return reply;
}

/**
 * A unit-length embedding of `text` as float32 values. `/api/embed` prints them as Go prints a
 * float32 ({@link float32Shortest}); the legacy `/api/embeddings` as the float64 they widen to.
 */
export function embeddingFor(model: SimModel, text: string, dimensions: number): number[] {
  const random = new Random(hashText(`${model.shortName.toLowerCase()}\u0000${text}`));
  const width = model.embeddingLength;
  const raw = new Array<number>(width);
  let sum = 0;
  for (let index = 0; index < width; index++) {
    const value = random.next() * 2 - 1;
    raw[index] = value;
    sum += value * value;
  }
  let vector = raw.map((value) => Math.fround(value / Math.sqrt(sum)));
  if (dimensions > 0 && dimensions < vector.length) {
    vector = vector.slice(0, dimensions);
    let norm = 0;
    for (const value of vector) norm += value * value;
    vector = vector.map((value) => Math.fround(value / Math.max(Math.sqrt(norm), 1e-12)));
  }
  return vector;
}
