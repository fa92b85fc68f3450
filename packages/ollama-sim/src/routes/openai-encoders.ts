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

function dialect(fillerLine: (filler: string) => string, endlessPrefix: () => string): Dialect {
  return {
    errorBody: (status, message) => ({ contentType: JSON_TYPE, body: openaiErrorJson(status, message) }),
    errorLine: (message) => `data: ${openaiErrorJson(500, message).trimEnd()}\n\n`,
    fillerLine,
    endlessPrefix,
  };
}

/** The OpenAI error dialect for routes that fail before choosing an encoder. */
export const OPENAI_DIALECT = dialect(
  (filler) => `data: {"filler":"${filler}"}\n\n`,
  () => 'data: {"filler":"',
);

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

/** `/v1/chat/completions`. */
export function openaiChatEncoder(model: string, includeUsage: boolean): GenerationEncoder {
  const id = `chatcmpl-${randomId()}`;
  const created = Math.floor(Date.now() / 1000);
  const envelope = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${goString(model)},"system_fingerprint":"fp_ollama","choices":[`;
  const head = `${envelope}{"index":0,"delta":{`;
  const tail = '},"finish_reason":null}]}\n\n';
  let first = true;
  let toolCallSent = false;
  const role = () => {
    if (!first) return '';
    first = false;
    return '"role":"assistant",';
  };
  const token = (piece: string, thinking: boolean) =>
    thinking
      ? `data: ${head}${role()}"content":"","reasoning":${escapeToken(piece)}${tail}`
      : `data: ${head}${role()}"content":${escapeToken(piece)}${tail}`;
  return {
    contentType: SSE,
    dialect: dialect(
      (filler) => `data: ${head}"content":${goString(filler)}${tail}`,
      () => `data: ${head}"content":"`,
    ),
    token,
    toolCalls: (calls) => {
      toolCallSent = true;
      return `data: ${head}${role()}"content":"","tool_calls":${goJson(openaiToolCalls(calls))}${tail}`;
    },
    finalLine: (info) => {
      let out = first ? token('', false) : '';
      const reason = finishReason(info.plan.doneReason, toolCallSent);
      out += `data: ${envelope}{"index":0,"delta":{},"finish_reason":"${reason}"}]}\n\n`;
      if (includeUsage) out += `data: ${envelope}],"usage":${goJson(usage(info))}}\n\n`;
      return `${out}data: [DONE]\n\n`;
    },
    single: (info, partial) => {
      const message: Record<string, unknown> = { role: 'assistant', content: info.plan.content };
      if (info.plan.thinking) message.reasoning = info.plan.thinking;
      if (info.plan.toolCalls) message.tool_calls = openaiToolCalls(info.plan.toolCalls);
      const body = {
        id,
        object: 'chat.completion',
        created,
        model,
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
    },
  };
}

/** `/v1/completions`. */
export function openaiCompletionEncoder(model: string, includeUsage: boolean): GenerationEncoder {
  const id = `cmpl-${randomId()}`;
  const zeroUsage = includeUsage ? ',"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}' : '';
  const chunk = (text: string, finish: string | null, usageJson = zeroUsage) =>
    `data: {"id":"${id}","object":"text_completion","created":${Math.floor(Date.now() / 1000)},"choices":[{"text":${text},"index":0,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}],"model":${goString(model)},"system_fingerprint":"fp_ollama"${usageJson}}\n\n`;
  return {
    contentType: SSE,
    dialect: dialect(
      (filler) => chunk(goString(filler), null),
      () => `data: {"id":"${id}","object":"text_completion","created":0,"choices":[{"text":"`,
    ),
    token: (piece, thinking) => chunk(thinking ? '""' : escapeToken(piece), null),
    toolCalls: () => chunk('""', null),
    finalLine: (info) => {
      let out = chunk('""', info.plan.doneReason);
      if (includeUsage) {
        out += `data: {"id":"${id}","object":"text_completion","created":${Math.floor(Date.now() / 1000)},"choices":[],"model":${goString(model)},"system_fingerprint":"fp_ollama","usage":${goJson(usage(info))}}\n\n`;
      }
      return `${out}data: [DONE]\n\n`;
    },
    single: (info, partial) => {
      const body = {
        id,
        object: 'text_completion',
        created: Math.floor(Date.now() / 1000),
        model,
        system_fingerprint: 'fp_ollama',
        choices: [
          { text: info.plan.content, index: 0, finish_reason: partial ? null : info.plan.doneReason },
        ],
        usage: usage(info),
      };
      return { contentType: JSON_TYPE, body: `${goJson(body)}\n` };
    },
  };
}
