// /api/chat and /api/generate lines, pre-serialised in Go's field order (api.ChatResponse,
// api.GenerateResponse).
import { goJson, goString, rfc3339Nano } from '../go-json.js';
import { logprobEntry, logprobsJson } from '../logprobs.js';
import { memo } from '../memo.js';
import { OLLAMA_DIALECT } from '../response-output.js';
import type { ReplyPlan } from '../simulated-reply.js';
import type { SimulatedToolCall } from '../types.js';
import type { FinalInfo, GenerationEncoder } from './generation.js';

const NDJSON = 'application/x-ndjson';
const JSON_TYPE = 'application/json; charset=utf-8';

const escapeCache = new Map<string, string>();

/** `goString` with a small cache: token texts repeat. */
export function escapeToken(piece: string): string {
  let escaped = escapeCache.get(piece);
  if (escaped === undefined) {
    escaped = goString(piece);
    if (escapeCache.size > 8192) escapeCache.clear();
    escapeCache.set(piece, escaped);
  }
  return escaped;
}

/** The start of every line: `{"model":"<name>","created_at":"`. */
const lineHead = memo((model) => `{"model":${goString(model)},"created_at":"`);

/**
 * The `message` object of a single `/api/chat` answer, by plan: it depends on the plan alone, and
 * cached plans are answered again and again.
 */
const chatMessages = new WeakMap<ReplyPlan, string>();

function chatMessage(plan: ReplyPlan): string {
  let message = chatMessages.get(plan);
  if (message === undefined) {
    message = `{"role":"assistant","content":${goString(plan.content)}`;
    if (plan.thinking) message += `,"thinking":${goString(plan.thinking)}`;
    if (plan.toolCalls) message += `,"tool_calls":${goJson(plan.toolCalls)}`;
    message += '}';
    chatMessages.set(plan, message);
  }
  return message;
}

/** Every generated token of a plan, thinking first, in the order they were streamed. */
function planTokens(plan: ReplyPlan): string[] {
  return [...plan.thinkingChunks, ...plan.chunks];
}

/** `,"logprobs":[...]` of one token line, or nothing when none were asked for. */
function lineLogprobs(piece: string, top: number | undefined): string {
  return top === undefined ? '' : `,"logprobs":[${logprobEntry(piece, top)}]`;
}

/** `,"logprobs":[...]` of a whole answer (every token), or nothing when none were asked for. */
function answerLogprobs(plan: ReplyPlan, top: number | undefined): string {
  return top === undefined ? '' : `,"logprobs":${logprobsJson(planTokens(plan), top)}`;
}

/** `api.Metrics`, zero values omitted (omitempty). */
export function metricsJson(info: FinalInfo): string {
  let out = info.totalNs !== 0 ? `,"total_duration":${info.totalNs}` : '';
  if (info.loadNs !== 0) out += `,"load_duration":${info.loadNs}`;
  if (info.plan.promptEvalCount !== 0) out += `,"prompt_eval_count":${info.plan.promptEvalCount}`;
  if (info.promptEvalNs !== 0) out += `,"prompt_eval_duration":${info.promptEvalNs}`;
  if (info.plan.evalCount !== 0) out += `,"eval_count":${info.plan.evalCount}`;
  if (info.evalNs !== 0) out += `,"eval_duration":${info.evalNs}`;
  return out.slice(1);
}

const CHAT_CONTENT = '","message":{"role":"assistant","content":';
const CHAT_THINKING = '","message":{"role":"assistant","content":"","thinking":';
const CHAT_TAIL = '},"done":false}\n';
const CHAT_TAIL_OPEN = '},"done":false';

/**
 * `/api/chat` NDJSON. `model` is the name as the client sent it; `logprobs` the number of top
 * entries when the request asked for logprobs.
 */
export class ChatEncoder implements GenerationEncoder {
  readonly contentType = NDJSON;
  readonly errorBody = OLLAMA_DIALECT.errorBody;
  readonly streamErrorType = OLLAMA_DIALECT.streamErrorType;
  readonly errorLine = OLLAMA_DIALECT.errorLine;
  readonly errorEvent = OLLAMA_DIALECT.errorEvent;
  private readonly head: string;

  constructor(
    model: string,
    private readonly logprobs?: number | undefined,
  ) {
    this.head = lineHead(model);
  }

  token(piece: string, thinking: boolean): string {
    const start = this.head + rfc3339Nano() + (thinking ? CHAT_THINKING : CHAT_CONTENT) + escapeToken(piece);
    if (this.logprobs === undefined) return start + CHAT_TAIL;
    return `${start}${CHAT_TAIL_OPEN}${lineLogprobs(piece, this.logprobs)}}\n`;
  }

  fillerLine(filler: string): string {
    return this.token(filler, false);
  }

  endlessPrefix(): string {
    return `${this.head}${rfc3339Nano()}${CHAT_CONTENT}"`;
  }

  toolCalls(calls: readonly SimulatedToolCall[]): string {
    return `${this.head}${rfc3339Nano()}","message":${goJson({ role: 'assistant', content: '', tool_calls: calls })},"done":false}\n`;
  }

  finalLine(info: FinalInfo): string {
    return `${this.head}${rfc3339Nano()}","message":{"role":"assistant","content":""},"done":true,"done_reason":"${info.plan.doneReason}",${metricsJson(info)}}\n`;
  }

  single(info: FinalInfo, partial: boolean): { contentType: string; body: string } {
    const plan = info.plan;
    // api.ChatResponse: done, done_reason, logprobs, then the metrics.
    const logprobs = answerLogprobs(plan, this.logprobs);
    const end = partial
      ? `"done":false${logprobs}}`
      : `"done":true,"done_reason":"${plan.doneReason}"${logprobs},${metricsJson(info)}}`;
    return {
      contentType: JSON_TYPE,
      body: `${this.head}${rfc3339Nano()}","message":${chatMessage(plan)},${end}`,
    };
  }
}

const GENERATE_CONTENT = '","response":';
const GENERATE_THINKING = '","response":"","thinking":';
const GENERATE_TAIL = ',"done":false}\n';

/** `/api/generate` NDJSON; the final line carries `context` unless `raw`. */
export class GenerateEncoder implements GenerationEncoder {
  readonly contentType = NDJSON;
  readonly errorBody = OLLAMA_DIALECT.errorBody;
  readonly streamErrorType = OLLAMA_DIALECT.streamErrorType;
  readonly errorLine = OLLAMA_DIALECT.errorLine;
  readonly errorEvent = OLLAMA_DIALECT.errorEvent;
  private readonly head: string;

  constructor(
    model: string,
    private readonly raw: boolean,
    private readonly logprobs?: number | undefined,
  ) {
    this.head = lineHead(model);
  }

  token(piece: string, thinking: boolean): string {
    const start =
      this.head + rfc3339Nano() + (thinking ? GENERATE_THINKING : GENERATE_CONTENT) + escapeToken(piece);
    if (this.logprobs === undefined) return start + GENERATE_TAIL;
    return `${start},"done":false${lineLogprobs(piece, this.logprobs)}}\n`;
  }

  fillerLine(filler: string): string {
    return this.token(filler, false);
  }

  endlessPrefix(): string {
    return `${this.head}${rfc3339Nano()}${GENERATE_CONTENT}"`;
  }

  toolCalls(calls: readonly SimulatedToolCall[]): string {
    return `${this.head}${rfc3339Nano()}","response":"","done":false,"tool_calls":${goJson(calls)}}\n`;
  }

  private context(info: FinalInfo): string {
    return this.raw ? '' : `,"context":[${info.plan.context().join(',')}]`;
  }

  finalLine(info: FinalInfo): string {
    return `${this.head}${rfc3339Nano()}","response":"","done":true,"done_reason":"${info.plan.doneReason}"${this.context(info)},${metricsJson(info)}}\n`;
  }

  single(info: FinalInfo, partial: boolean): { contentType: string; body: string } {
    const plan = info.plan;
    let body = `${this.head}${rfc3339Nano()}","response":${goString(plan.content)}`;
    if (plan.thinking) body += `,"thinking":${goString(plan.thinking)}`;
    // api.GenerateResponse: ..., context, the metrics, tool_calls, then logprobs.
    const logprobs = answerLogprobs(plan, this.logprobs);
    body += partial
      ? `,"done":false${logprobs}}`
      : `,"done":true,"done_reason":"${plan.doneReason}"${this.context(info)},${metricsJson(info)}${logprobs}}`;
    return { contentType: JSON_TYPE, body };
  }
}
