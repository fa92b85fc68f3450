// The OpenAI-compatible wire format (openai/openai.go, middleware/openai.go): SSE `data:` events
// ending with `data: [DONE]`, and single JSON bodies written by json.Encoder (trailing newline).
import { goJson, goString } from '../go-json.js';
import type { Dialect } from '../response-output.js';
import type { SimulatedToolCall } from '../types.js';
import type { FinalInfo, GenerationEncoder } from './generation.js';
import { escapeToken } from './ollama-encoders.js';

const SSE = 'text/event-stream';
const JSON_TYPE = 'application/json';

function errorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

/** `openai.NewError`: `{"error":{"message","type","param":null,"code":null}}` plus the encoder's newline. */
export function openaiErrorJson(status: number, message: string): string {
  return `${goJson({ error: { message, type: errorType(status), param: null, code: null } })}\n`;
}

function errorBody(status: number, message: string): { contentType: string; body: string } {
  return { contentType: JSON_TYPE, body: openaiErrorJson(status, message) };
}

/** OpenAI's error event inside a started SSE stream (the `'error-event'` fault; Ollama never sends it). */
function errorEvent(message: string): string {
  return `data: ${openaiErrorJson(500, message).trimEnd()}\n\n`;
}

/**
 * A failure after output, as the server's middleware writes it: the `{"error"}` line decoded as a
 * response is an empty chunk (no model, `delta: {"content":""}`); the stream then ends without
 * `[DONE]` and without any error event, so an OpenAI client returns what it got as the answer.
 */
function emptyChatChunk(id: string, created: number): string {
  return `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":"","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}\n\n`;
}

/**
 * Errors the OpenAI middleware answers itself (a body it cannot decode or convert): gin's
 * `AbortWithStatusJSON`, so `application/json; charset=utf-8` without a trailing newline, unlike
 * the handler's errors that pass through the middleware's writer.
 */
export const OPENAI_MIDDLEWARE_DIALECT: Dialect = {
  errorBody: (status, message) => ({
    contentType: 'application/json; charset=utf-8',
    body: openaiErrorJson(status, message).trimEnd(),
  }),
  errorLine: (message) => OPENAI_DIALECT.errorLine(message),
  errorEvent,
  fillerLine: (filler) => OPENAI_DIALECT.fillerLine(filler),
  endlessPrefix: () => OPENAI_DIALECT.endlessPrefix(),
};

/** The OpenAI error dialect for routes that fail before choosing an encoder. */
export const OPENAI_DIALECT: Dialect = {
  errorBody,
  errorLine: () => emptyChatChunk(`chatcmpl-${randomId()}`, Math.floor(Date.now() / 1000)),
  errorEvent,
  fillerLine: (filler) => `data: {"filler":"${filler}"}\n\n`,
  endlessPrefix: () => 'data: {"filler":"',
};

function usage(info: FinalInfo): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = info.plan.promptEvalCount;
  const completion = info.plan.evalCount;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function finishReason(reason: string, toolCalls: boolean): string {
  return reason === 'stop' && toolCalls ? 'tool_calls' : reason;
}

function openaiToolCalls(calls: readonly SimulatedToolCall[]) {
  return calls.map((call) => ({
    id: call.id,
    index: call.function.index,
    type: 'function',
    function: { name: call.function.name, arguments: goJson(call.function.arguments) },
  }));
}

const randomId = () => Math.floor(Math.random() * 999);
const CHUNK_TAIL = '},"finish_reason":null}]}\n\n';

/** `/v1/chat/completions`. */
export class OpenaiChatEncoder implements GenerationEncoder {
  readonly contentType = SSE;
  readonly errorBody = errorBody;
  readonly errorEvent = errorEvent;
  private readonly id = `chatcmpl-${randomId()}`;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly envelope: string;
  private readonly head: string;
  private first = true;
  private toolCallSent = false;

  constructor(
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {
    this.envelope = `{"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${goString(model)},"system_fingerprint":"fp_ollama","choices":[`;
    this.head = `${this.envelope}{"index":0,"delta":{`;
  }

  errorLine(): string {
    return emptyChatChunk(this.id, this.created);
  }

  private role(): string {
    if (!this.first) return '';
    this.first = false;
    return '"role":"assistant",';
  }

  token(piece: string, thinking: boolean): string {
    return thinking
      ? `data: ${this.head}${this.role()}"content":"","reasoning":${escapeToken(piece)}${CHUNK_TAIL}`
      : `data: ${this.head}${this.role()}"content":${escapeToken(piece)}${CHUNK_TAIL}`;
  }

  fillerLine(filler: string): string {
    return `data: ${this.head}"content":${goString(filler)}${CHUNK_TAIL}`;
  }

  endlessPrefix(): string {
    return `data: ${this.head}"content":"`;
  }

  toolCalls(calls: readonly SimulatedToolCall[]): string {
    this.toolCallSent = true;
    return `data: ${this.head}${this.role()}"content":"","tool_calls":${goJson(openaiToolCalls(calls))}${CHUNK_TAIL}`;
  }

  finalLine(info: FinalInfo): string {
    let out = this.first ? this.token('', false) : '';
    const reason = finishReason(info.plan.doneReason, this.toolCallSent);
    out += `data: ${this.envelope}{"index":0,"delta":{},"finish_reason":"${reason}"}]}\n\n`;
    if (this.includeUsage) out += `data: ${this.envelope}],"usage":${goJson(usage(info))}}\n\n`;
    return `${out}data: [DONE]\n\n`;
  }

  single(info: FinalInfo, partial: boolean): { contentType: string; body: string } {
    const message: Record<string, unknown> = { role: 'assistant', content: info.plan.content };
    if (info.plan.thinking) message.reasoning = info.plan.thinking;
    if (info.plan.toolCalls) message.tool_calls = openaiToolCalls(info.plan.toolCalls);
    const body = {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      system_fingerprint: 'fp_ollama',
      choices: [
        {
          index: 0,
          message,
          finish_reason: partial
            ? null
            : finishReason(info.plan.doneReason, info.plan.toolCalls !== undefined),
        },
      ],
      usage: usage(info),
    };
    return { contentType: JSON_TYPE, body: `${goJson(body)}\n` };
  }
}

/** `/v1/completions`. */
export class OpenaiCompletionEncoder implements GenerationEncoder {
  readonly contentType = SSE;
  readonly errorBody = errorBody;
  readonly errorEvent = errorEvent;
  private readonly id = `cmpl-${randomId()}`;
  private readonly zeroUsage: string;
  private readonly modelJson: string;

  constructor(
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {
    this.zeroUsage = includeUsage
      ? ',"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}'
      : '';
    this.modelJson = goString(model);
  }

  private chunk(text: string, finish: string | null): string {
    return `data: {"id":"${this.id}","object":"text_completion","created":${Math.floor(Date.now() / 1000)},"choices":[{"text":${text},"index":0,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}],"model":${this.modelJson},"system_fingerprint":"fp_ollama"${this.zeroUsage}}\n\n`;
  }

  /** A failure after output: an empty chunk without a model, then the end (see {@link emptyChatChunk}). */
  errorLine(): string {
    return `data: {"id":"${this.id}","object":"text_completion","created":${Math.floor(Date.now() / 1000)},"choices":[{"text":"","index":0,"finish_reason":null}],"model":"","system_fingerprint":"fp_ollama"${this.zeroUsage}}\n\n`;
  }

  token(piece: string, thinking: boolean): string {
    return this.chunk(thinking ? '""' : escapeToken(piece), null);
  }

  fillerLine(filler: string): string {
    return this.chunk(goString(filler), null);
  }

  endlessPrefix(): string {
    return `data: {"id":"${this.id}","object":"text_completion","created":0,"choices":[{"text":"`;
  }

  toolCalls(): string {
    return this.chunk('""', null);
  }

  finalLine(info: FinalInfo): string {
    let out = this.chunk('""', info.plan.doneReason);
    if (this.includeUsage) {
      out += `data: {"id":"${this.id}","object":"text_completion","created":${Math.floor(Date.now() / 1000)},"choices":[],"model":${this.modelJson},"system_fingerprint":"fp_ollama","usage":${goJson(usage(info))}}\n\n`;
    }
    return `${out}data: [DONE]\n\n`;
  }

  single(info: FinalInfo, partial: boolean): { contentType: string; body: string } {
    const body = {
      id: this.id,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: this.model,
      system_fingerprint: 'fp_ollama',
      choices: [{ text: info.plan.content, index: 0, finish_reason: partial ? null : info.plan.doneReason }],
      usage: usage(info),
    };
    return { contentType: JSON_TYPE, body: `${goJson(body)}\n` };
  }
}
