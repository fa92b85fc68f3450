// /api/chat and /api/generate lines, pre-serialised in Go's field order (api.ChatResponse,
// api.GenerateResponse).
import { goJson, goString, rfc3339Nano } from '../go-json.js';
import { type Dialect, OLLAMA_DIALECT } from '../response-output.js';
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

/** `api.Metrics`, zero values omitted (omitempty). */
export function metricsJson(info: FinalInfo): string {
  const parts: string[] = [];
  const add = (name: string, value: number) => {
    if (value !== 0) parts.push(`"${name}":${value}`);
  };
  add('total_duration', info.totalNs);
  add('load_duration', info.loadNs);
  add('prompt_eval_count', info.plan.promptEvalCount);
  add('prompt_eval_duration', info.promptEvalNs);
  add('eval_count', info.plan.evalCount);
  add('eval_duration', info.evalNs);
  return parts.join(',');
}

function metricsObject(info: FinalInfo): Record<string, number> {
  const result: Record<string, number> = {};
  const add = (name: string, value: number) => {
    if (value !== 0) result[name] = value;
  };
  add('total_duration', info.totalNs);
  add('load_duration', info.loadNs);
  add('prompt_eval_count', info.plan.promptEvalCount);
  add('prompt_eval_duration', info.promptEvalNs);
  add('eval_count', info.plan.evalCount);
  add('eval_duration', info.evalNs);
  return result;
}

function dialectFor(token: (piece: string) => string, endlessPrefix: () => string): Dialect {
  return { ...OLLAMA_DIALECT, fillerLine: token, endlessPrefix };
}

/** `/api/chat` NDJSON. `model` is the name as the client sent it. */
export function chatEncoder(model: string): GenerationEncoder {
  const head = `{"model":${goString(model)},"created_at":"`;
  const contentHead = '","message":{"role":"assistant","content":';
  const thinkingHead = '","message":{"role":"assistant","content":"","thinking":';
  const tail = '},"done":false}\n';
  const token = (piece: string, thinking: boolean) =>
    head + rfc3339Nano() + (thinking ? thinkingHead : contentHead) + escapeToken(piece) + tail;
  return {
    contentType: NDJSON,
    dialect: dialectFor(
      (filler) => token(filler, false),
      () => `${head}${rfc3339Nano()}${contentHead}"`,
    ),
    token,
    toolCalls: (calls) =>
      `${head}${rfc3339Nano()}","message":${goJson({ role: 'assistant', content: '', tool_calls: calls })},"done":false}\n`,
    finalLine: (info) =>
      `${head}${rfc3339Nano()}","message":{"role":"assistant","content":""},"done":true,"done_reason":"${info.plan.doneReason}",${metricsJson(info)}}\n`,
    single: (info, partial) => {
      const message: Record<string, unknown> = { role: 'assistant', content: info.plan.content };
      if (info.plan.thinking) message.thinking = info.plan.thinking;
      if (info.plan.toolCalls) message.tool_calls = info.plan.toolCalls;
      const body: Record<string, unknown> = { model, created_at: rfc3339Nano(), message, done: !partial };
      if (!partial) Object.assign(body, { done_reason: info.plan.doneReason }, metricsObject(info));
      return { contentType: JSON_TYPE, body: goJson(body) };
    },
  };
}

/** `/api/generate` NDJSON; the final line carries `context` unless `raw`. */
export function generateEncoder(model: string, raw: boolean): GenerationEncoder {
  const head = `{"model":${goString(model)},"created_at":"`;
  const contentHead = '","response":';
  const thinkingHead = '","response":"","thinking":';
  const tail = ',"done":false}\n';
  const token = (piece: string, thinking: boolean) =>
    head + rfc3339Nano() + (thinking ? thinkingHead : contentHead) + escapeToken(piece) + tail;
  return {
    contentType: NDJSON,
    dialect: dialectFor(
      (filler) => token(filler, false),
      () => `${head}${rfc3339Nano()}${contentHead}"`,
    ),
    token,
    toolCalls: (calls: readonly SimulatedToolCall[]) =>
      `${head}${rfc3339Nano()}","response":"","done":false,"tool_calls":${goJson(calls)}}\n`,
    finalLine: (info) => {
      const context = raw ? '' : `,"context":[${info.plan.context().join(',')}]`;
      return `${head}${rfc3339Nano()}","response":"","done":true,"done_reason":"${info.plan.doneReason}"${context},${metricsJson(info)}}\n`;
    },
    single: (info, partial) => {
      const body: Record<string, unknown> = { model, created_at: rfc3339Nano(), response: info.plan.content };
      if (info.plan.thinking) body.thinking = info.plan.thinking;
      body.done = !partial;
      if (!partial) {
        body.done_reason = info.plan.doneReason;
        if (!raw) body.context = info.plan.context();
        Object.assign(body, metricsObject(info));
      }
      return { contentType: JSON_TYPE, body: goJson(body) };
    },
  };
}
