// /api/chat and /api/generate lines, pre-serialised in Go's field order (api.ChatResponse,
// api.GenerateResponse).
import { goJson, goString, rfc3339Nano } from '../go-json.js';
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

/** `/api/chat` NDJSON. `model` is the name as the client sent it. */
export class ChatEncoder implements GenerationEncoder {
  readonly contentType = NDJSON;
  readonly errorBody = OLLAMA_DIALECT.errorBody;
  readonly errorLine = OLLAMA_DIALECT.errorLine;
  readonly errorEvent = OLLAMA_DIALECT.errorEvent;
  private readonly head: string;

  constructor(model: string) {
    this.head = lineHead(model);
  }

  token(piece: string, thinking: boolean): string {
    return (
      this.head + rfc3339Nano() + (thinking ? CHAT_THINKING : CHAT_CONTENT) + escapeToken(piece) + CHAT_TAIL
    );
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
    const end = partial
      ? '"done":false}'
      : `"done":true,"done_reason":"${plan.doneReason}",${metricsJson(info)}}`;
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
  readonly errorLine = OLLAMA_DIALECT.errorLine;
  readonly errorEvent = OLLAMA_DIALECT.errorEvent;
  private readonly head: string;

  constructor(
    model: string,
    private readonly raw: boolean,
  ) {
    this.head = lineHead(model);
  }

  token(piece: string, thinking: boolean): string {
    return (
      this.head +
      rfc3339Nano() +
      (thinking ? GENERATE_THINKING : GENERATE_CONTENT) +
      escapeToken(piece) +
      GENERATE_TAIL
    );
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
    body += partial
      ? ',"done":false}'
      : `,"done":true,"done_reason":"${plan.doneReason}"${this.context(info)},${metricsJson(info)}}`;
    return { contentType: JSON_TYPE, body };
  }
}
