import { type Context, definePolicy, ErrorCode, type Policy, StreamError, wrap } from '@bulwark/core';
import {
  type Fault,
  type ModelSpec,
  type OllamaSim,
  simulatedReply,
  startOllamaSim,
} from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ollama } from './ollama.js';
import { trackResources } from './test-support.js';
import type { ChatResponse, OllamaOptions } from './types.js';

const messages = [{ role: 'user', content: 'Why is the sky blue?' }];
const request = { model: 'llama3.2', messages };
const expected = simulatedReply(request);

interface Settled {
  ok: boolean;
  error?: unknown;
  cancelled?: boolean;
}

/** A policy that records how each operation it runs settles, as a breaker would see it. */
function recorder(): { policy: Policy; settled: Settled[] } {
  const settled: Settled[] = [];
  const policy = definePolicy(async (context: Context, next) => {
    try {
      const value = await next(context);
      settled.push({ ok: true });
      return value;
    } catch (error) {
      settled.push({
        ok: false,
        error,
        cancelled: context.signal.aborted && context.signal.reason === error,
      });
      throw error;
    }
  });
  return { policy, settled };
}

let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(
  faults: Fault[] = [],
  policy?: Policy,
  tokenDelayMs = 0,
  models?: ModelSpec[],
  options: OllamaOptions = {},
) {
  const resources = trackResources();
  const sim = await startOllamaSim({
    host: '127.0.0.1',
    port: 0,
    faults,
    tokenDelayMs,
    ...(models ? { models } : {}),
  });
  // No owned model loads: each call's requests are exactly its attempts.
  const ollama = new Ollama({ host: sim.url, ...(policy ? { policy } : {}), modelState: false, ...options });
  cleanup = async () => {
    await ollama.close();
    await sim.close();
    await resources.expectReleased();
  };
  return { sim, ollama };
}

async function outcome(sim: OllamaSim, index = 0): Promise<string | undefined> {
  await vi.waitFor(() => expect(sim.requests[index]?.outcome).not.toBe('pending'), { timeout: 2_000 });
  return sim.requests[index]?.outcome;
}

describe('stream lifetime', () => {
  it("a caller's break frees the socket, the server sees the disconnect, and it is not a failure", async () => {
    const { policy, settled } = recorder();
    const { sim, ollama } = await setup([], policy, 20);
    const parts: ChatResponse[] = [];
    for await (const part of await ollama.chat({ ...request, stream: true })) {
      parts.push(part);
      if (parts.length === 2) break;
    }
    expect(await outcome(sim)).toBe('client-closed');
    await vi.waitFor(() => expect(settled).toHaveLength(1));
    expect(settled[0]).toMatchObject({ ok: false, cancelled: true });
    // the connection is free again: a second call completes
    const answer = await ollama.chat(request);
    expect(answer.message.content).toBe(expected.content);
  });

  it('iterator.abort() stops the stream with an AbortError and frees the socket', async () => {
    const { policy, settled } = recorder();
    const { sim, ollama } = await setup([], policy, 20);
    const stream = await ollama.chat({ ...request, stream: true });
    const seen: ChatResponse[] = [];
    const error = await (async () => {
      for await (const part of stream) {
        seen.push(part);
        if (seen.length === 2) stream.abort();
      }
    })().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(seen).toHaveLength(2);
    expect(await outcome(sim)).toBe('client-closed');
    await vi.waitFor(() => expect(settled[0]?.cancelled).toBe(true));
  });

  it('ollama.abort() stops every open stream', async () => {
    const { sim, ollama } = await setup([], undefined, 20);
    const first = await ollama.chat({ ...request, stream: true });
    const second = await ollama.generate({ model: 'gemma3', prompt: 'x', stream: true });
    ollama.abort();
    await expect(first.next()).rejects.toMatchObject({ name: 'AbortError' });
    await expect(second.next()).rejects.toMatchObject({ name: 'AbortError' });
    expect(await outcome(sim, 0)).toBe('client-closed');
    expect(await outcome(sim, 1)).toBe('client-closed');
  });

  it("a caller's signal before headers rejects with the caller's own reason", async () => {
    const { sim, ollama } = await setup([{ route: '/api/chat', kind: 'hang' }]);
    for (const stream of [true, false]) {
      const controller = new AbortController();
      const reason = new Error('mine');
      setTimeout(() => controller.abort(reason), 100);
      const error = await ollama
        .chat({ ...request, stream } as typeof request, { signal: controller.signal })
        .catch((caught: unknown) => caught);
      expect(error).toBe(reason);
    }
    expect(await outcome(sim, 0)).toBe('client-closed');
    expect(await outcome(sim, 1)).toBe('client-closed');
  });

  it("a caller's signal mid-stream rejects the next chunk with the caller's own reason", async () => {
    const { sim, ollama } = await setup([], undefined, 20);
    const controller = new AbortController();
    const reason = { mine: true };
    const seen: ChatResponse[] = [];
    const error = await (async () => {
      for await (const part of await ollama.chat(
        { ...request, stream: true },
        { signal: controller.signal },
      )) {
        seen.push(part);
        if (seen.length === 2) controller.abort(reason);
      }
    })().catch((caught: unknown) => caught);
    expect(error).toBe(reason);
    expect(seen).toHaveLength(2);
    expect(await outcome(sim)).toBe('client-closed');
  });

  it('a signal aborted already rejects at once and sends nothing', async () => {
    const { sim, ollama } = await setup();
    const reason = new Error('before');
    await expect(ollama.chat(request, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(ollama.list({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(sim.requests).toHaveLength(0);
  });

  it("a caller's signal during a non-streamed JSON call rejects with its reason", async () => {
    const { ollama } = await setup([{ route: '/api/tags', kind: 'hang' }]);
    const controller = new AbortController();
    const reason = new Error('list took too long for me');
    setTimeout(() => controller.abort(reason), 50);
    await expect(ollama.list({ signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('idle budget and a slow reader', () => {
  it('a slow reader is not the server going silent; a stall after it is', async () => {
    const { ollama } = await setup(
      [{ route: '/api/chat', kind: 'stall', afterChunks: 150 }],
      undefined,
      0,
      [{ name: 'long', replyTokens: 1_000 }],
      { idleMs: 400 },
    );
    const stream = await ollama.chat({ model: 'long', messages, stream: true });
    // far longer than idleMs without reading: the reader is behind, not the server
    await new Promise((resolve) => setTimeout(resolve, 800));
    let received = 0;
    const started = performance.now();
    const error = await (async () => {
      for await (const _ of stream) received++;
    })().catch((caught: unknown) => caught);
    expect(received).toBe(150);
    expect(error).toMatchObject({
      name: 'BulwarkTimeoutError',
      phase: 'idle',
      timeoutMs: 400,
      committed: true,
    });
    expect(performance.now() - started).toBeLessThan(400 + 1_000);
  });
});

describe('a reader that is behind', () => {
  it('holds the server back through the socket instead of buffering the stream', async () => {
    const tokens = 300_000;
    const { sim, ollama } = await setup([], undefined, 0, [{ name: 'long', replyTokens: tokens }]);
    const stream = await ollama.chat({ model: 'long', messages, stream: true });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // Unread, the stream stopped at what the socket buffers hold: a small part of the answer.
    const written = sim.requests[0]?.chunks ?? 0;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(tokens / 3);
    let received = 0;
    for await (const _ of stream) received++;
    expect(received).toBe(tokens + 1);
  });

  it('reads a gzip-encoded stream whole when the reader pauses between records', async () => {
    const tokens = 20_000;
    const { ollama } = await setup([{ route: '/api/chat', gzip: true }], undefined, 0, [
      { name: 'long', replyTokens: tokens },
    ]);
    const stream = await ollama.chat({ model: 'long', messages, stream: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    let received = 0;
    let content = '';
    for await (const part of stream) {
      received++;
      content += part.message.content;
      if (received % 5_000 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(received).toBe(tokens + 1);
    expect(content).toBe(simulatedReply({ name: 'long', replyTokens: tokens }, { messages }).content);
  });
});

describe('streams under retry', () => {
  const retried = () => wrap(timeout({ totalMs: 10_000 }), retry({ maxAttempts: 3, initialDelayMs: 1 }));

  it('a failure before headers is retried; the caller sees each chunk once', async () => {
    const { sim, ollama } = await setup([{ route: '/api/chat', nth: 1, kind: 'reset' }], retried());
    const parts = [];
    for await (const part of await ollama.chat({ ...request, stream: true })) parts.push(part);
    expect(parts.map((part) => part.message.content).join('')).toBe(expected.content);
    expect(parts).toHaveLength(expected.chunks.length + 1);
    expect(sim.requests).toHaveLength(2);
  });

  it('records read but not yet taken by the caller are dropped when their attempt fails, then retried', async () => {
    const { sim, ollama } = await setup(
      [{ route: '/api/chat', nth: 1, kind: 'error-line', afterChunks: 5, message: 'runner died' }],
      retried(),
    );
    const stream = await ollama.chat({ ...request, stream: true });
    // the caller is slow to start reading: the first attempt's five records wait, unseen
    await vi.waitFor(() => expect(sim.requests.length).toBe(2));
    const parts = [];
    for await (const part of stream) parts.push(part);
    expect(parts.map((part) => part.message.content).join('')).toBe(expected.content);
    expect(parts).toHaveLength(expected.chunks.length + 1);
    expect(sim.requests.map((entry) => entry.outcome)).toEqual(['error', 'completed']);
  });

  it('a failure after a chunk reached the caller is not retried (committed)', async () => {
    const policy = retry({ maxAttempts: 3, initialDelayMs: 1 });
    const reasons: string[] = [];
    policy.onGiveUp((event) => reasons.push(event.reason));
    const { sim, ollama } = await setup(
      [{ route: '/api/chat', kind: 'error-line', afterChunks: 3, message: 'runner died', tokenDelayMs: 10 }],
      wrap(timeout({ totalMs: 10_000 }), policy),
    );
    const parts: ChatResponse[] = [];
    const error = await (async () => {
      for await (const part of await ollama.chat({ ...request, stream: true })) parts.push(part);
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ committed: true });
    expect(reasons).toEqual(['committed']);
    expect(parts).toHaveLength(3);
    expect(parts.map((part) => part.message.content).join('')).toBe(expected.chunks.slice(0, 3).join(''));
    expect(sim.requests).toHaveLength(1);
  });

  it('a whole answer is retried after a mid-stream failure (nothing reached the caller)', async () => {
    const { sim, ollama } = await setup(
      [{ route: '/api/chat', nth: 1, kind: 'reset', afterChunks: 3 }],
      retried(),
    );
    const answer = await ollama.chat(request);
    expect(answer.message.content).toBe(expected.content);
    expect(sim.requests).toHaveLength(2);
  });

  it('503 then success, honouring the phase budgets of an inner timeout', async () => {
    const { sim, ollama } = await setup(
      [
        { route: '/api/chat', nth: 1, status: 503, retryAfter: 0 },
        { route: '/api/chat', nth: 2, kind: 'hang' },
      ],
      wrap(
        timeout({ totalMs: 10_000 }),
        retry({ maxAttempts: 3, initialDelayMs: 1 }),
        timeout({ firstTokenMs: 300, idleMs: 1_000 }),
      ),
    );
    const started = performance.now();
    const answer = await ollama.chat(request);
    expect(answer.message.content).toBe(expected.content);
    expect(sim.requests.map((entry) => entry.status)).toEqual([503, undefined, 200]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('a request waiting in the pool for a connection', () => {
  it('fails at its own budget and is never sent, while the connection it waited for stays busy', async () => {
    const { sim, ollama } = await setup(
      [{ route: '/api/chat', nth: 1, tokenDelayMs: 100 }],
      timeout({ headersMs: 200 }),
      0,
      undefined,
      { connections: 1 },
    );
    // A slow stream holds the only connection.
    const slow = await ollama.chat({ ...request, stream: true });
    const started = performance.now();
    const error = await ollama.chat(request).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: ErrorCode.Timeout, phase: 'headers' });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(sim.requests).toHaveLength(1);
    slow.abort();
  });

  it("rejects at once with the caller's reason when the caller aborts", async () => {
    const { sim, ollama } = await setup(
      [{ route: '/api/chat', nth: 1, kind: 'hang' }],
      undefined,
      0,
      undefined,
      {
        connections: 1,
        headersMs: 1_000,
      },
    );
    const hung = ollama.chat(request).catch((error: unknown) => error);
    await vi.waitFor(() => expect(sim.requests).toHaveLength(1));
    const controller = new AbortController();
    const queued = ollama.chat(request, { signal: controller.signal }).catch((caught: unknown) => caught);
    const reason = new Error('the user left');
    setTimeout(() => controller.abort(reason), 50);
    expect(await queued).toBe(reason);
    expect(sim.requests).toHaveLength(1);
    await hung;
  });
});
