/**
 * timeout() and retry() against the Ollama simulator over real loopback HTTP, through the real
 * @bulwark/ollama transport: its classification of statuses (with Retry-After), resets and
 * `{"error"}` lines, and its commit when the first chunk reaches the caller, are the ones tested.
 */
import {
  ConnectionError,
  ErrorCode,
  type Policy,
  ProtocolError,
  ResponseError,
  StreamError,
  TimeoutError,
  wrap,
} from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, SERVER_BUSY_MESSAGE, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

let sim: OllamaSim;

beforeAll(async () => {
  sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await sim.close();
});

afterEach(() => {
  sim.clearFaults();
  sim.clearRequests();
  vi.restoreAllMocks();
});

/** Streams one chat answer through `policy`; resolves with the whole content when the stream ends. */
async function chat(policy?: Policy, model = 'llama3.2', url = sim.url): Promise<string> {
  // No load-only request before a call: the simulator's log holds exactly the attempts.
  const ollama = new Ollama({ host: url, modelState: false, ...(policy ? { policy } : {}) });
  try {
    let content = '';
    for await (const part of await ollama.chat({
      model,
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
    })) {
      content += part.message.content;
    }
    return content;
  } finally {
    await ollama.close();
  }
}

describe('timeout() and retry() against the Ollama simulator', () => {
  it('retries 503 busy, honouring Retry-After, and succeeds once the server has room', async () => {
    sim.setFaults([
      { route: '/api/chat', status: 503, message: SERVER_BUSY_MESSAGE, retryAfter: 1, nth: 1 },
      { route: '/api/chat', status: 503, message: SERVER_BUSY_MESSAGE, nth: 2 },
    ]);
    const policy = retry({ maxAttempts: 4, initialDelayMs: 10 });
    const delays: number[] = [];
    policy.onRetry(({ delayMs }) => delays.push(delayMs));
    const started = performance.now();
    const content = await chat(policy);
    const tookMs = performance.now() - started;
    expect(content.length).toBeGreaterThan(0);
    // the first wait is the server's Retry-After; the second, without one, is the backoff
    expect(delays[0]).toBe(1_000);
    expect(delays[1]).toBeLessThan(100);
    expect(tookMs).toBeGreaterThanOrEqual(1_000);
    expect(sim.requests.map((request) => request.status)).toEqual([503, 503, 200]);
  });

  it("retries 503 from the simulator's own full queue until the running answer drains", async () => {
    // one slot and room for one request to wait for it: a third request gets 503 until one ends
    await using busy = await startOllamaSim({
      host: '127.0.0.1',
      port: 0,
      numParallel: 1,
      maxQueue: 1,
      boundSlotWait: true,
      tokenDelayMs: 20,
      replyTokens: 20,
    });
    const busyChat = (policy?: Policy) => chat(policy, 'llama3.2', busy.url);
    await busyChat(); // loads the model
    busy.clearRequests();
    const running = [busyChat(), busyChat()];
    await busy.waitForRequests(2);
    const policy = retry({ maxAttempts: 10, initialDelayMs: 50, maxDelayMs: 200 });
    const content = await busyChat(policy);
    expect(content.length).toBeGreaterThan(0);
    for (const answer of await Promise.all(running)) expect(answer.length).toBeGreaterThan(0);
    const statuses = busy.requests.slice(2).map((request) => request.status);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(statuses[0]).toBe(503);
    expect(statuses.at(-1)).toBe(200);
  });

  it('does not retry 404 for an unknown model', async () => {
    const policy = retry({ maxAttempts: 4, initialDelayMs: 10 });
    const reasons: string[] = [];
    policy.onGiveUp((event) => reasons.push(event.reason));
    const error = await chat(policy, 'no-such-model').catch((caught) => caught);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error).toMatchObject({ status: 404 });
    expect(reasons).toEqual(['not-retryable']);
    expect(sim.requests).toHaveLength(1);
  });

  it('retries a connection reset before any output', async () => {
    sim.setFaults([{ route: '/api/chat', kind: 'reset', afterChunks: 0, times: 1 }]);
    const policy = retry({ maxAttempts: 3, initialDelayMs: 10 });
    const content = await chat(policy);
    expect(content.length).toBeGreaterThan(0);
    expect(sim.requests.map((request) => request.outcome)).toEqual(['destroyed', 'completed']);
  });

  it('does not replay a stream that failed after output reached the caller', async () => {
    // tokens 30 ms apart: each chunk reaches the caller before the failure that follows it
    await using slow = await startOllamaSim({ host: '127.0.0.1', port: 0, tokenDelayMs: 30 });
    const policy = retry({ maxAttempts: 3, initialDelayMs: 10 });
    const reasons: string[] = [];
    policy.onGiveUp((event) => reasons.push(event.reason));
    slow.setFaults([{ route: '/api/chat', kind: 'error-line', afterChunks: 3 }]);
    const errorLine = await chat(policy, 'llama3.2', slow.url).catch((caught) => caught);
    expect(errorLine).toBeInstanceOf(StreamError);
    expect(errorLine).toMatchObject({ committed: true, retryable: false });
    expect(reasons).toEqual(['committed']);
    expect(slow.requests).toHaveLength(1);

    slow.clearRequests();
    slow.setFaults([{ route: '/api/chat', kind: 'reset', afterChunks: 3 }]);
    const reset = await chat(policy, 'llama3.2', slow.url).catch((caught) => caught);
    expect(reset).toBeInstanceOf(ConnectionError);
    expect(reset).toMatchObject({ committed: true });
    expect(reasons).toEqual(['committed', 'committed']);
    expect(slow.requests).toHaveLength(1);
  });

  it('retries a stream that ended without its final line before any output, and only that ProtocolError', async () => {
    const policy = retry({ maxAttempts: 3, initialDelayMs: 10 });
    // an empty 200 body: nothing reached the caller, so the replay is safe
    sim.setFaults([{ route: '/api/chat', kind: 'empty', times: 1 }]);
    expect((await chat(policy)).length).toBeGreaterThan(0);
    expect(sim.requests.map((request) => request.status)).toEqual([200, 200]);

    // a line that is not JSON is the server's answer, not a transient fault: never retried
    sim.clearRequests();
    sim.setFaults([{ route: '/api/chat', kind: 'truncate', times: 1 }]);
    const malformed = await chat(policy).catch((caught) => caught);
    expect(malformed).toBeInstanceOf(ProtocolError);
    expect(malformed).toMatchObject({ code: ErrorCode.Protocol, retryable: false });
    expect(sim.requests).toHaveLength(1);

    // a stream cut without its final line after tokens reached the caller: committed, not retried
    await using slow = await startOllamaSim({ host: '127.0.0.1', port: 0, tokenDelayMs: 30 });
    slow.setFaults([{ route: '/api/chat', kind: 'no-done', afterChunks: 3 }]);
    const cut = await chat(policy, 'llama3.2', slow.url).catch((caught) => caught);
    expect(cut).toBeInstanceOf(ProtocolError);
    expect(cut).toMatchObject({ code: ErrorCode.Protocol, committed: true, retryable: false });
    expect(slow.requests).toHaveLength(1);
  });

  it('fails a hung server within the 2 s total, naming it, with the attempt timeouts in its cause chain', async () => {
    // fixed jitter: waits of about 224, 273 and 509 ms, so the fourth attempt is running at 2 s
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    sim.setFaults([{ route: '/api/chat', kind: 'hang' }]);
    const policy = wrap(timeout({ totalMs: 2_000 }), retry({ maxAttempts: 5 }), timeout({ attemptMs: 300 }));
    const started = performance.now();
    const error = await chat(policy).catch((caught) => caught);
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThanOrEqual(1_950);
    expect(tookMs).toBeLessThan(2_300);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'total', timeoutMs: 2_000, retryable: false });
    expect(error.message).toBe('Timed out for the call to finish after 2000 ms');
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(TimeoutError);
    expect(cause).toMatchObject({ phase: 'attempt', timeoutMs: 300, attempt: 2 });
    expect(sim.requests).toHaveLength(4);
    // every hung request was abandoned by the client, none left pending
    await vi.waitFor(() =>
      expect(sim.requests.every((request) => request.outcome === 'client-closed')).toBe(true),
    );
  });
});
