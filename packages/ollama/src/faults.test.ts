import {
  ConnectionError,
  ErrorCode,
  ProtocolError,
  ResponseError,
  StreamError,
  TimeoutError,
} from '@bulwark/core';
import { type Fault, simulatedReply, startOllamaSim } from '@bulwark/ollama-sim';
import { Agent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { Ollama } from './ollama.js';
import { errorText, trackResources } from './test-support.js';
import type { OllamaOptions } from './types.js';

const SECRET = 'sk-SECRET';
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];
const chatRequest = { model: 'llama3.2', messages };

type Mode = 'streamed' | 'whole';

interface Outcome {
  error: unknown;
  value: unknown;
  elapsedMs: number;
  /** Chunks the caller received before the end. */
  received: number;
  requests: { outcome: string; status: number | undefined }[];
}

/**
 * Starts a simulator with `fault`, runs one chat (streamed or whole) with an Authorization header,
 * closes everything and checks nothing is left behind and the secret appears nowhere in the error.
 */
async function run(
  fault: Fault | undefined,
  mode: Mode,
  options: OllamaOptions = {},
  call?: (ollama: Ollama, signal: AbortSignal) => Promise<unknown>,
): Promise<Outcome> {
  const resources = trackResources();
  const sim = await startOllamaSim({ host: '127.0.0.1', port: 0, faults: fault ? [fault] : [] });
  const ollama = new Ollama({
    host: sim.url,
    headers: { authorization: `Bearer ${SECRET}` },
    ...options,
  });
  const controller = new AbortController();
  const started = performance.now();
  let error: unknown;
  let value: unknown;
  let received = 0;
  try {
    if (call) value = await call(ollama, controller.signal);
    else if (mode === 'whole') value = await ollama.chat(chatRequest, { signal: controller.signal });
    else {
      const parts = [];
      for await (const part of await ollama.chat(
        { ...chatRequest, stream: true },
        { signal: controller.signal },
      )) {
        parts.push(part);
        received++;
      }
      value = parts;
    }
  } catch (caught) {
    error = caught;
  }
  const elapsedMs = performance.now() - started;
  const requests = sim.requests.map((request) => ({ outcome: request.outcome, status: request.status }));
  expect(sim.requests.every((request) => request.headers.authorization === `Bearer ${SECRET}`)).toBe(true);
  await ollama.close();
  await sim.close();
  await resources.expectReleased(controller.signal);
  if (error !== undefined) expect(errorText(error)).not.toContain(SECRET);
  return { error, value, elapsedMs, received, requests };
}

const SLACK_MS = 1_000;

describe.each(['whole', 'streamed'] as const)('faults on a %s chat', (mode) => {
  const streamed = mode === 'streamed';

  it('hang before headers: a first-token timeout at its budget', async () => {
    const { error, elapsedMs } = await run({ route: '/api/chat', kind: 'hang' }, mode, {
      firstTokenMs: 400,
    });
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: ErrorCode.Timeout, phase: 'first-token', timeoutMs: 400 });
    expect((error as TimeoutError).retryable).toBe(true);
    expect(elapsedMs).toBeGreaterThanOrEqual(390);
    expect(elapsedMs).toBeLessThan(400 + SLACK_MS);
  });

  it('hang before headers: a headers timeout when that budget is shorter', async () => {
    const { error, elapsedMs } = await run({ route: '/api/chat', kind: 'hang' }, mode, {
      headersMs: 300,
      firstTokenMs: 5_000,
    });
    expect(error).toMatchObject({ code: ErrorCode.Timeout, phase: 'headers', timeoutMs: 300 });
    expect(elapsedMs).toBeLessThan(300 + SLACK_MS);
  });

  it('stall mid-stream: an idle timeout', async () => {
    const { error, elapsedMs, received } = await run(
      { route: '/api/chat', kind: 'stall', afterChunks: 3 },
      mode,
      { idleMs: 400 },
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'idle', timeoutMs: 400, committed: streamed });
    if (streamed) expect(received).toBe(3);
    expect(elapsedMs).toBeLessThan(400 + SLACK_MS);
  });

  it('reset before any byte: a retryable ConnectionError', async () => {
    const { error, received } = await run({ route: '/api/chat', kind: 'reset' }, mode);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: ErrorCode.Connection, retryable: true, committed: false });
    expect(received).toBe(0);
  });

  it('reset after chunks: committed when streamed, retryable when whole', async () => {
    const { error, received } = await run(
      { route: '/api/chat', kind: 'reset', afterChunks: 3, tokenDelayMs: 10 },
      mode,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ committed: streamed, retryable: !streamed });
    if (streamed) expect(received).toBe(3);
  });

  it('close mid-line: a ConnectionError', async () => {
    const { error } = await run(
      { route: '/api/chat', kind: 'close-mid-line', afterChunks: 3, tokenDelayMs: 10 },
      mode,
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: ErrorCode.Connection, committed: streamed });
  });

  it('malformed line: a ProtocolError', async () => {
    const { error } = await run(
      { route: '/api/chat', kind: 'malformed-line', afterChunks: 3, tokenDelayMs: 10 },
      mode,
    );
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: ErrorCode.Protocol, committed: streamed });
  });

  it('error line mid-stream: a StreamError with the server text', async () => {
    const { error, received } = await run(
      { route: '/api/chat', kind: 'error-line', afterChunks: 3, message: 'runner died', tokenDelayMs: 10 },
      mode,
    );
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({
      code: ErrorCode.StreamError,
      serverMessage: 'runner died',
      committed: streamed,
      retryable: !streamed,
      model: 'llama3.2',
    });
    if (streamed) expect(received).toBe(3);
  });

  it('503 with Retry-After: a retryable ResponseError with retryAfterMs', async () => {
    const { error } = await run({ route: '/api/chat', status: 503, retryAfter: 2 }, mode);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 2_000, retryable: true, committed: false });
    expect((error as ResponseError).serverMessage).toContain('server busy');
  });

  it('an HTML 502: a ResponseError with a short text', async () => {
    const { error } = await run({ route: '/api/chat', kind: 'html' }, mode);
    expect(error).toBeInstanceOf(ResponseError);
    const response = error as ResponseError;
    expect(response.status).toBe(502);
    expect(response.retryable).toBe(true);
    expect(response.serverMessage).toContain('502 Bad Gateway');
    expect(response.serverMessage).not.toContain('<');
    expect(response.message.length).toBeLessThan(300);
  });

  it.each([
    ['empty', { kind: 'empty' }],
    ['truncate', { kind: 'truncate' }],
    ['no-done', { kind: 'no-done', afterChunks: 3 }],
  ] as const)('%s 200: a ProtocolError', async (_, fault) => {
    const { error } = await run({ route: '/api/chat', ...fault }, mode);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: ErrorCode.Protocol });
  });

  it('an oversized line over maxLineBytes: a ProtocolError', async () => {
    const { error, elapsedMs } = await run(
      { route: '/api/chat', kind: 'oversized-line', afterChunks: 2, lineBytes: 200_000 },
      mode,
      { maxLineBytes: 10_000 },
    );
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toContain('10000');
    expect(elapsedMs).toBeLessThan(SLACK_MS * 2);
  });

  it('an endless line: a ProtocolError once it passes maxLineBytes', async () => {
    const { error } = await run({ route: '/api/chat', kind: 'endless-line', afterChunks: 2 }, mode, {
      maxLineBytes: 20_000,
    });
    expect(error).toBeInstanceOf(ProtocolError);
  });

  it.each([
    ['gzip', { gzip: true }],
    ['a slow drip', { dripBytes: 64, dripIntervalMs: 1 }],
    ['a gzipped drip', { gzip: true, dripBytes: 16, dripIntervalMs: 1 }],
  ] as const)('%s: the right answer', async (_, fault) => {
    const { error, value } = await run({ route: '/api/chat', ...fault }, mode);
    expect(error).toBeUndefined();
    const content = streamed
      ? (value as { message: { content: string } }[]).map((part) => part.message.content).join('')
      : (value as { message: { content: string } }).message.content;
    expect(content).toBe(simulatedReply(chatRequest).content);
  });

  it('a gzipped stream that stalls: an idle timeout', async () => {
    const { error, elapsedMs } = await run(
      { route: '/api/chat', kind: 'stall', afterChunks: 3, gzip: true },
      mode,
      { idleMs: 400 },
    );
    expect(error).toMatchObject({ phase: 'idle', timeoutMs: 400 });
    expect(elapsedMs).toBeLessThan(400 + SLACK_MS);
  });

  it('a gzipped stream that is reset: a ConnectionError', async () => {
    const { error } = await run(
      { route: '/api/chat', kind: 'reset', afterChunks: 3, gzip: true, tokenDelayMs: 5 },
      mode,
      { idleMs: 2_000 },
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ committed: streamed });
  });

  it('a refused connection: a retryable ConnectionError', async () => {
    const { error } = await run(undefined, mode, {}, async (_ollama, signal) => {
      const closed = await startOllamaSim({ host: '127.0.0.1', port: 0 });
      const url = closed.url;
      await closed.close();
      const other = new Ollama({ host: url, headers: { authorization: `Bearer ${SECRET}` } });
      try {
        return streamed
          ? await other.chat({ ...chatRequest, stream: true }, { signal })
          : await other.chat(chatRequest, { signal });
      } finally {
        await other.close();
      }
    });
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ reason: 'refused', retryable: true });
    expect(errorText(error)).not.toContain(SECRET);
  });
});

describe('faults on plain JSON calls', () => {
  it('a hung list: a headers timeout', async () => {
    const { error, elapsedMs } = await run(
      { route: '/api/tags', kind: 'hang' },
      'whole',
      { headersMs: 300 },
      (o) => o.list(),
    );
    expect(error).toMatchObject({ phase: 'headers', timeoutMs: 300 });
    expect(elapsedMs).toBeLessThan(300 + SLACK_MS);
  });

  it('a list dripped slower than idleMs: an idle timeout', async () => {
    const { error, elapsedMs } = await run(
      { route: '/api/tags', dripBytes: 8, dripIntervalMs: 700 },
      'whole',
      { idleMs: 300 },
      (o) => o.list(),
    );
    expect(error).toMatchObject({ phase: 'idle', timeoutMs: 300 });
    expect(elapsedMs).toBeLessThan(300 + SLACK_MS);
  });

  it('a gzipped, dripped list: the right answer', async () => {
    const { error, value } = await run(
      { route: '/api/tags', gzip: true, dripBytes: 32, dripIntervalMs: 1 },
      'whole',
      {},
      (o) => o.list(),
    );
    expect(error).toBeUndefined();
    expect((value as { models: unknown[] }).models.length).toBeGreaterThan(0);
  });

  it.each([
    ['truncate', { kind: 'truncate' }, ProtocolError],
    ['html', { kind: 'html' }, ResponseError],
    ['reset', { kind: 'reset' }, ConnectionError],
    ['status 500', { status: 500 }, ResponseError],
  ] as const)('%s on show: the right error', async (_, fault, type) => {
    const { error } = await run({ route: '/api/show', ...fault }, 'whole', {}, (o) =>
      o.show({ model: 'llama3.2' }),
    );
    expect(error).toBeInstanceOf(type);
  });

  it('maxLineBytes bounds streamed lines, not a whole JSON answer', async () => {
    const { error, value } = await run(undefined, 'whole', { maxLineBytes: 100 }, (o) =>
      o.embed({ model: 'nomic-embed-text', input: ['a', 'b', 'c'] }),
    );
    expect(error).toBeUndefined();
    expect((value as { embeddings: unknown[] }).embeddings).toHaveLength(3);
  });

  it('an error page is cut short, not read whole', async () => {
    const { error } = await run(
      { route: '/api/show', status: 500, body: `{"error":"${'x'.repeat(200_000)}"}` },
      'whole',
      {},
      (o) => o.show({ model: 'llama3.2' }),
    );
    expect(error).toBeInstanceOf(ResponseError);
    expect((error as Error).message.length).toBeLessThan(1_000);
  });
});

describe('headersMs is the budget in force, not undici’s', () => {
  it('1 s fires at about 1 s when headers take 3 s, before undici’s own (longer) headers timer', async () => {
    const { error, elapsedMs } = await run({ route: '/api/chat', delayMs: 3_000 }, 'whole', {
      headersMs: 1_000,
    });
    expect(error).toMatchObject({ phase: 'headers', timeoutMs: 1_000 });
    // undici's timer is set 2 s past the budget, and is coarse: it cannot have fired by 1.9 s.
    expect((error as TimeoutError).cause).toBeUndefined();
    expect(elapsedMs).toBeGreaterThanOrEqual(990);
    expect(elapsedMs).toBeLessThan(1_900);
  });

  it('10 s lets the same call succeed', async () => {
    const { error, value, elapsedMs } = await run({ route: '/api/chat', delayMs: 3_000 }, 'whole', {
      headersMs: 10_000,
    });
    expect(error).toBeUndefined();
    expect((value as { message: { content: string } }).message.content).toBe(
      simulatedReply(chatRequest).content,
    );
    expect(elapsedMs).toBeGreaterThanOrEqual(2_990);
  });

  it('budgets longer than undici’s implicit 300 s reach undici’s own timers', async () => {
    const dispatch = vi.spyOn(Agent.prototype, 'dispatch');
    try {
      const { error } = await run(undefined, 'whole', { headersMs: 400_000, idleMs: 450_000 });
      expect(error).toBeUndefined();
      // The chat itself, not the load-only request that warms the model first.
      const sent = dispatch.mock.calls
        .map(([options]) => options)
        .filter((options) => options.path === '/api/chat');
      expect(sent).toHaveLength(1);
      expect(sent[0]?.headersTimeout).toBeGreaterThanOrEqual(400_000);
      expect(sent[0]?.bodyTimeout).toBeGreaterThanOrEqual(450_000);
    } finally {
      dispatch.mockRestore();
    }
  });
});
