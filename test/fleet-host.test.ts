import { circuitBreaker } from '@bulwark/breaker';
import { BulwarkError, CircuitOpenError, ResponseError, TimeoutError, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { ConsecutiveBreaker } from 'cockatiel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Harness,
  registerOtel,
  unregisterOtel,
} from '../packages/otel/src/test-support/otel-harness.js';

/* A fleet names the host of each attempt: on spans, on metrics, on errors, and to keyed policies. */

const sims: OllamaSim[] = [];
let client: Ollama | undefined;
let otel: Harness;

beforeAll(() => {
  otel = registerOtel();
});

afterAll(async () => {
  await unregisterOtel(otel);
});

afterEach(async () => {
  await client?.close();
  client = undefined;
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
  otel.exporter.reset();
});

async function sim(options: Parameters<typeof startOllamaSim>[0]): Promise<OllamaSim> {
  const started = await startOllamaSim(options);
  sims.push(started);
  return started;
}

const ask = (content: string) => ({ model: 'llama3.2', messages: [{ role: 'user', content }] });
const port = (server: OllamaSim) => Number(new URL(server.url).port);
const chats = (server: OllamaSim) => server.requests.filter((entry) => entry.route === '/api/chat');

describe('the host of each attempt', () => {
  it('is on each attempt span, and on the call span and metrics as the host that answered', async () => {
    const failing = await sim({
      models: ['llama3.2'],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    const healthy = await sim({ models: ['llama3.2'] });
    client = new Ollama({
      hosts: [failing.url, healthy.url],
      // Keep the failing host in the rotation: every call may be routed to it first.
      fleet: { consecutiveFailures: 1_000 },
      policy: retry({ maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 }),
      instrument,
    });
    await Promise.all([
      client.load('llama3.2', { host: failing.url }),
      client.load('llama3.2', { host: healthy.url }),
    ]);
    for (let index = 0; index < 16; index++) {
      const answer = await client.chat(ask(`which host ${index}`));
      expect(answer.message.content).toBe(healthy.simulatedReply(ask(`which host ${index}`)).content);
    }
    const failed = chats(failing).length;
    // Routing spread the first attempts over both hosts; each one on the failing host failed over.
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(chats(healthy)).toHaveLength(16);

    const spans = otel.spans();
    const attempts = spans.filter((span) => span.name === 'bulwark.attempt');
    const calls = spans.filter((span) => span.name === 'chat llama3.2');
    expect(calls).toHaveLength(16);
    expect(attempts).toHaveLength(16 + failed);
    for (const span of attempts) {
      expect(span.attributes['server.address']).toBe('127.0.0.1');
      // An attempt in error went to the failing host; every other one to the healthy host.
      expect(span.attributes['server.port']).toBe(
        span.attributes['error.type'] === undefined ? port(healthy) : port(failing),
      );
    }
    expect(attempts.filter((span) => span.attributes['server.port'] === port(failing))).toHaveLength(failed);
    // The call is described by the host that answered it.
    for (const span of calls) expect(span.attributes['server.port']).toBe(port(healthy));

    const metrics = await otel.metrics();
    const outcomes = metrics.filter((point) => point.name === 'bulwark.calls');
    expect(outcomes.length).toBeGreaterThanOrEqual(1);
    for (const point of outcomes) expect(point.attributes['server.port']).toBe(port(healthy));
    expect(outcomes.reduce((sum, point) => sum + (point.value as number), 0)).toBe(16);
    const durations = metrics.filter((point) => point.name === 'gen_ai.client.operation.duration');
    expect(durations.map((point) => point.attributes['server.port'])).toEqual([port(healthy)]);
  }, 30_000);

  it('is the `host` of the error an attempt fails with', async () => {
    const failing = await sim({
      models: ['llama3.2'],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    const slow = await sim({ models: ['llama3.2'], promptEvalMs: 3_000 });
    // Long enough for the failing host's 500 on a loaded machine, far below the slow host's 3 s.
    client = new Ollama({ hosts: [failing.url, slow.url], firstTokenMs: 1_000 });
    await Promise.all([
      client.load('llama3.2', { host: failing.url }),
      client.load('llama3.2', { host: slow.url }),
    ]);
    const errors = await Promise.all(
      Array.from({ length: 6 }, (_, index) => client!.chat(ask(`fail ${index}`)).catch((error) => error)),
    );
    const byHost = new Map<string | undefined, unknown[]>();
    for (const error of errors) {
      expect(BulwarkError.is(error)).toBe(true);
      const host = (error as BulwarkError).host;
      byHost.set(host, [...(byHost.get(host) ?? []), error]);
    }
    // Each error names the host its attempt went to, whichever it was.
    expect([...byHost.keys()].sort()).toEqual([failing.url, slow.url].sort());
    for (const error of byHost.get(failing.url) ?? []) expect(error).toBeInstanceOf(ResponseError);
    for (const error of byHost.get(slow.url) ?? []) {
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).phase).toBe('first-token');
    }
    expect(byHost.get(failing.url)).toHaveLength(chats(failing).length);
  }, 30_000);
});

describe("breakers keyed by 'host' in a fleet", () => {
  it('open for the failing host only; the healthy host keeps answering', async () => {
    const failing = await sim({
      models: ['llama3.2'],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    const healthy = await sim({ models: ['llama3.2'] });
    const breaker = circuitBreaker({ key: 'host', breaker: () => new ConsecutiveBreaker(2) });
    client = new Ollama({
      hosts: [failing.url, healthy.url],
      fleet: { consecutiveFailures: 1_000 },
      policy: wrap(retry({ maxAttempts: 1 }), breaker),
    });
    await Promise.all([
      client.load('llama3.2', { host: failing.url }),
      client.load('llama3.2', { host: healthy.url }),
    ]);
    // Two calls at a time on one slot each: one of every pair is routed to the failing host.
    const outcomes: unknown[] = [];
    for (let pair = 0; pair < 12; pair++) {
      outcomes.push(
        ...(await Promise.all(
          [0, 1].map((index) =>
            client!.chat(ask(`breaker ${pair} ${index}`)).catch((error: unknown) => error),
          ),
        )),
      );
    }
    expect(breaker.getState(failing.url).state).toBe('open');
    expect(breaker.getState(healthy.url).state).toBe('closed');
    // One breaker per host, none for calls without a host.
    expect([...breaker.states()].map(([key]) => key).sort()).toEqual([failing.url, healthy.url].sort());
    // Two failures opened the failing host's breaker: no more requests reached it after them.
    expect(chats(failing)).toHaveLength(2);
    const refused = outcomes.filter((outcome) => outcome instanceof CircuitOpenError) as CircuitOpenError[];
    expect(refused).toHaveLength(10);
    for (const error of refused) {
      expect(error.key).toBe(failing.url);
      expect(error.host).toBe(failing.url);
    }
    const answered = outcomes.filter((outcome) => !(outcome instanceof Error));
    expect(answered).toHaveLength(chats(healthy).length);
    expect(answered).toHaveLength(12);
  }, 30_000);
});

describe('hedges and the retry budget', () => {
  it('a hedge costs a retry from the budget; once it is spent, calls are not hedged', async () => {
    const slow = await sim({ models: ['llama3.2'], promptEvalMs: 800, replyTokens: 3 });
    const fast = await sim({ models: ['llama3.2'], promptEvalMs: 20, replyTokens: 3 });
    const policy = retry({ maxAttempts: 2, budget: { ratio: 0, minRetries: 2 } });
    client = new Ollama({ hosts: [slow.url, fast.url], hedge: { delayMs: 300, maxShare: 1 }, policy });
    await Promise.all([
      client.load('llama3.2', { host: slow.url }),
      client.load('llama3.2', { host: fast.url }),
    ]);
    // Two calls at a time on one slot each: one finds the fast host busy, so four start on the slow one.
    for (let pair = 0; pair < 4; pair++) {
      await Promise.all([client.chat(ask(`pair ${pair} a`)), client.chat(ask(`pair ${pair} b`))]);
    }
    const onSlow = chats(slow);
    expect(onSlow).toHaveLength(4);
    // The budget paid for two hedges; the two calls after it waited for the slow host.
    expect(client.fleet().hedges.hedges).toBe(2);
    expect(policy.budgetRemaining()).toBe(0);
    expect(onSlow.filter((entry) => entry.outcome === 'completed')).toHaveLength(2);
    expect(chats(fast)).toHaveLength(4 + 2);
  }, 30_000);
});
