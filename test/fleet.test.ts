import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { createOllama } from 'bulwark';
import { afterEach, describe, expect, it } from 'vitest';

const sims: OllamaSim[] = [];
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function sim(options: Parameters<typeof startOllamaSim>[0]): Promise<OllamaSim> {
  const started = await startOllamaSim(options);
  sims.push(started);
  return started;
}

const ask = (content: string, model = 'llama3.2') => ({ model, messages: [{ role: 'user', content }] });
const chats = (server: OllamaSim) =>
  server.requests.filter(
    (request) =>
      request.route === '/api/chat' && ((request.body as { messages?: unknown[] }).messages?.length ?? 0) > 0,
  ).length;
const loads = (server: OllamaSim) =>
  server.requests.filter(
    (request) => request.route === '/api/generate' && (request.body as { prompt?: unknown }).prompt === '',
  ).length;

/** Runs `count` tasks, `concurrency` at a time. */
async function pool<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

describe('a fleet of three hosts: warm, cold, failing', () => {
  it('200 calls at concurrency 16 all succeed; the failing host is ejected after 5 failures; the cold host gets no call', async () => {
    const warm = await sim({ models: ['llama3.2'], numParallel: 4, replyTokens: [5, 10] });
    const cold = await sim({ models: ['llama3.2'], loadMs: 2_000, replyTokens: [5, 10] });
    const failing = await sim({
      models: ['llama3.2'],
      replyTokens: [5, 10],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    client = createOllama({
      hosts: [{ host: warm.url, capacity: 4 }, cold.url, failing.url],
      maxRetries: 2,
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
      telemetry: false,
      breaker: false,
    });
    await client.load('llama3.2', { host: warm.url });
    await client.load('llama3.2', { host: failing.url });
    const answers = await pool(200, 16, (index) => client!.chat(ask(`question ${index}`)));
    expect(answers).toHaveLength(200);
    for (const [index, answer] of answers.entries()) {
      expect(answer.message.content).toBe(warm.simulatedReply(ask(`question ${index}`)).content);
    }
    const snapshot = client.fleet();
    const failingStatus = snapshot.hosts.find((host) => host.host === failing.url);
    expect(failingStatus?.state).toBe('ejected');
    expect(failingStatus?.ejections).toBe(1);
    // Five failures eject it; calls already sent to it when it was ejected may add a few.
    expect(chats(failing)).toBeGreaterThanOrEqual(5);
    expect(chats(failing)).toBeLessThanOrEqual(12);
    expect(chats(cold)).toBe(0);
    expect(loads(cold)).toBe(0);
    expect(chats(warm)).toBe(200);
    expect(snapshot.outstanding).toBe(0);
    expect(snapshot.hosts.find((host) => host.host === warm.url)?.warmModels).toEqual(['llama3.2']);
  }, 30_000);

  it('a burst for a model warm nowhere loads it on one host only', async () => {
    const a = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    const b = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    const c = await sim({ models: ['llama3.2', 'qwen3'], loadMs: 300 });
    client = new Ollama({ hosts: [a.url, b.url, c.url] });
    await Promise.all(Array.from({ length: 16 }, (_, index) => client!.chat(ask(`burst ${index}`))));
    expect(a.stats().loads + b.stats().loads + c.stats().loads).toBe(1);
    const first = [a, b, c].find((server) => server.stats().loads === 1) as OllamaSim;
    expect(chats(first)).toBe(16);
    // A second model goes to a host that holds none rather than evicting the first one's.
    await client.chat(ask('other model', 'qwen3'));
    expect(first.stats('qwen3').loads).toBe(0);
    expect(a.stats().loads + b.stats().loads + c.stats().loads).toBe(2);
  }, 30_000);

  it('the cold host loads once when the warm one is ejected', async () => {
    const warm = await sim({ models: ['llama3.2'] });
    const cold = await sim({ models: ['llama3.2'], loadMs: 500 });
    client = new Ollama({
      hosts: [warm.url, cold.url],
      fleet: { consecutiveFailures: 1, maxEjectionPercent: 50 },
      policy: retry({ maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 }),
    });
    await client.load('llama3.2', { host: warm.url });
    warm.setFaults([{ route: '/api/chat', kind: 'reset' }]);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, index) => client!.chat(ask(`moved ${index}`))),
    );
    expect(answers.map((answer) => answer.message.content)).toEqual(
      Array.from({ length: 8 }, (_, index) => cold.simulatedReply(ask(`moved ${index}`)).content),
    );
    expect(cold.stats().loads).toBe(1);
    expect(client.fleet().hosts[0]?.state).toBe('ejected');
  }, 30_000);
});

describe('failover before commit, never after', () => {
  it('a reset before output is retried on another host, with the same answer', async () => {
    const first = await sim({ models: ['llama3.2'], faults: [{ route: '/api/chat', kind: 'reset' }] });
    const second = await sim({ models: ['llama3.2'] });
    client = new Ollama({
      hosts: [first.url, second.url],
      policy: wrap(retry({ maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 })),
    });
    await client.load('llama3.2', { host: first.url });
    const request = ask('fail over');
    const answer = await client.chat(request);
    expect(answer.message.content).toBe(second.simulatedReply(request).content);
    expect(chats(first)).toBe(1);
    expect(chats(second)).toBe(1);
    expect(first.requests.find((entry) => entry.route === '/api/chat')?.outcome).toBe('destroyed');
  });

  it('a reset after output is not replayed on another host', async () => {
    const first = await sim({
      models: ['llama3.2'],
      replyTokens: 10,
      faults: [{ route: '/api/chat', kind: 'reset', afterChunks: 3 }],
    });
    const second = await sim({ models: ['llama3.2'], replyTokens: 10 });
    client = new Ollama({
      hosts: [first.url, second.url],
      policy: retry({ maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 }),
    });
    await client.load('llama3.2', { host: first.url });
    const request = ask('no replay');
    const stream = await client.chat({ ...request, stream: true });
    const received: string[] = [];
    const failure = await (async () => {
      try {
        for await (const chunk of stream) received.push(chunk.message.content);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toMatchObject({ code: 'ERR_BULWARK_CONNECTION', committed: true });
    expect(received).toEqual(first.simulatedReply(request).chunks.slice(0, 3));
    expect(chats(second)).toBe(0);
  });
});

describe('fallback models', () => {
  it("answers from the second model when the first one's only host returns 503s; no fallback when the first succeeds", async () => {
    const big = await sim({
      models: ['llama3.1:70b'],
      faults: [{ route: '/api/chat', model: 'llama3.1:70b', kind: 'status', status: 503 }],
    });
    const small = await sim({ models: ['llama3.2:3b'] });
    client = createOllama({
      hosts: [big.url, small.url],
      fallbackModels: { 'llama3.1:70b': ['llama3.2:3b'] },
      // A retry would fail over to the other host, which does not have the first model (a 404).
      maxRetries: 0,
      telemetry: false,
    });
    await client.load('llama3.1:70b', { host: big.url });
    await client.load('llama3.2:3b', { host: small.url });
    const request = ask('which model?', 'llama3.1:70b');
    const answer = await client.chat(request);
    expect(answer.model).toBe('llama3.2:3b');
    expect(answer.message.content).toBe(small.simulatedReply({ ...request, model: 'llama3.2:3b' }).content);
    expect(big.requests.filter((entry) => entry.route === '/api/chat' && entry.status === 503)).toHaveLength(
      1,
    );
    const stream = await client.chat({ ...ask('streamed', 'llama3.1:70b'), stream: true });
    const models = new Set<string>();
    for await (const chunk of stream) models.add(chunk.model);
    expect([...models]).toEqual(['llama3.2:3b']);

    big.clearFaults();
    const before = chats(small);
    const direct = await client.chat(ask('no fallback', 'llama3.1:70b'));
    expect(direct.model).toBe('llama3.1:70b');
    expect(direct.message.content).toBe(big.simulatedReply(ask('no fallback', 'llama3.1:70b')).content);
    expect(chats(small)).toBe(before);
  });

  it('rejects a malformed chain with an error naming it', () => {
    expect(() => new Ollama({ fallbackModels: { a: [] } })).toThrow(/fallbackModels\["a"\]/);
    expect(() => new Ollama({ fallbackModels: { a: ['a'] } })).toThrow(/names a model twice/);
  });
});

describe('hosts', () => {
  it('reads OLLAMA_HOSTS, rejects host with hosts, bad weights and duplicates', () => {
    const saved = process.env.OLLAMA_HOSTS;
    process.env.OLLAMA_HOSTS = 'gpu-a:11434, http://gpu-b:8080';
    try {
      const fromEnv = new Ollama();
      expect(fromEnv.hosts).toEqual(['http://gpu-a:11434', 'http://gpu-b:8080']);
      expect(fromEnv.fleet().hosts.map((host) => host.state)).toEqual(['healthy', 'healthy']);
      void fromEnv.close();
      expect(new Ollama({ host: 'gpu-c' }).hosts).toEqual(['http://gpu-c:11434']);
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_HOSTS;
      else process.env.OLLAMA_HOSTS = saved;
    }
    expect(() => new Ollama({ host: 'a', hosts: ['b'] })).toThrow(/either option "host" or option "hosts"/);
    expect(() => new Ollama({ hosts: [{ host: 'a', weight: 0 }] })).toThrow(
      /"hosts\[0\]\.weight" must be a positive number, got 0/,
    );
    expect(() => new Ollama({ hosts: [{ host: 'a', capacity: 1.5 }] })).toThrow(/"hosts\[0\]\.capacity"/);
    expect(() => new Ollama({ hosts: ['a', 'http://a:11434'] })).toThrow(/listed twice/);
    expect(() => new Ollama({ hosts: [] })).toThrow(/non-empty array/);
    expect(() => new Ollama({ hosts: ['a'], fleet: { consecutiveFailures: 0 } })).toThrow(
      /consecutiveFailures/,
    );
  });
});

describe('hedging', () => {
  it('a call late to its first chunk on the slow host is sent to the fast one, which wins; the slow request is aborted', async () => {
    const slow = await sim({ models: ['llama3.2'], promptEvalMs: 2_000, replyTokens: 5 });
    const fast = await sim({ models: ['llama3.2'], promptEvalMs: 50, replyTokens: 5 });
    client = new Ollama({ hosts: [slow.url, fast.url], hedge: { delayMs: 300, maxShare: 1 } });
    await Promise.all([
      client.load('llama3.2', { host: slow.url }),
      client.load('llama3.2', { host: fast.url }),
    ]);
    const call = async (index: number) => {
      const request = ask(`hedged ${index}`);
      const started = performance.now();
      const stream = await client!.chat({ ...request, stream: true });
      let content = '';
      for await (const chunk of stream) content += chunk.message.content;
      expect(content).toBe(fast.simulatedReply(request).content);
      return performance.now() - started;
    };
    // Two calls at a time: power of two choices sends one to each host.
    for (let pair = 0; pair < 4; pair++) {
      const elapsed = await Promise.all([call(pair * 2), call(pair * 2 + 1)]);
      // 50 ms to the first token plus the 300 ms hedge delay, with slack for a loaded machine; far from 2 s.
      for (const ms of elapsed) expect(ms).toBeLessThan(1_200);
    }
    const slowChats = slow.requests.filter((entry) => entry.route === '/api/chat');
    expect(slowChats.length).toBeGreaterThanOrEqual(4);
    // Every request on the slow host lost its race and was left by the client at once.
    await expect
      .poll(() => slowChats.every((entry) => entry.outcome === 'client-closed'), { timeout: 2_000 })
      .toBe(true);
    for (const entry of slowChats) expect((entry.endedAt as number) - entry.startedAt).toBeLessThan(1_500);
    const { hedges } = client.fleet();
    expect(hedges.hedges).toBeGreaterThanOrEqual(4);
    expect(hedges.hedges).toBeLessThanOrEqual(hedges.attempts);
    expect(chats(fast)).toBe(8);
    expect(client.fleet().outstanding).toBe(0);
  }, 30_000);

  it('hedges stay within their share of attempts', async () => {
    const slow = await sim({ models: ['llama3.2'], promptEvalMs: 1_000, replyTokens: 3, numParallel: 16 });
    const fast = await sim({ models: ['llama3.2'], promptEvalMs: 20, replyTokens: 3, numParallel: 16 });
    client = new Ollama({
      hosts: [
        { host: slow.url, capacity: 16 },
        { host: fast.url, capacity: 16 },
      ],
      hedge: { delayMs: 100, maxShare: 0.2 },
    });
    await Promise.all([
      client.load('llama3.2', { host: slow.url }),
      client.load('llama3.2', { host: fast.url }),
    ]);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => client!.chat(ask(`share ${index}`))),
    );
    expect(answers).toHaveLength(20);
    const { hedges } = client.fleet();
    expect(hedges.attempts).toBe(20);
    expect(hedges.hedges).toBeGreaterThanOrEqual(1);
    expect(hedges.hedges).toBeLessThanOrEqual(4);
    // Calls on the slow host beyond the share were not hedged: they finished there (each hedge
    // aborts one request, the loser of its race).
    const slowChats = slow.requests.filter((entry) => entry.route === '/api/chat');
    const completed = slowChats.filter((entry) => entry.outcome === 'completed').length;
    expect(completed).toBeGreaterThanOrEqual(slowChats.length - hedges.hedges);
    expect(completed).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('a host without the model', () => {
  it('after its 404, calls to that model go to the hosts that have it', async () => {
    const without = await sim({ models: ['qwen3'] });
    const withModel = await sim({ models: ['llama3.2'] });
    client = new Ollama({ hosts: [without.url, withModel.url] });
    await expect(client.chat(ask('where?'))).rejects.toMatchObject({ status: 404 });
    for (let index = 0; index < 3; index++) {
      const answer = await client.chat(ask(`found ${index}`));
      expect(answer.message.content).toBe(withModel.simulatedReply(ask(`found ${index}`)).content);
    }
    expect(without.requests.filter((entry) => entry.model === 'llama3.2')).toHaveLength(1);
  });
});

describe('the background /api/ps refresh', () => {
  const psRequests = (server: OllamaSim) => server.requests.filter((entry) => entry.route === '/api/ps');

  it('makes a model loaded out of band warm in the routing, so calls use it without loading it again', async () => {
    const a = await sim({ models: ['llama3.2', 'qwen3'] });
    const b = await sim({ models: ['llama3.2', 'qwen3'] });
    client = new Ollama({ hosts: [a.url, b.url], fleet: { psRefreshMs: 200 } });
    // Another client loads qwen3 on b: this client has not seen it.
    const other = new Ollama({ host: b.url });
    try {
      await other.load('qwen3');
    } finally {
      await other.close();
    }
    expect(b.stats('qwen3').loads).toBe(1);
    expect(client.modelStates()).toEqual([]);
    // Calls to another model flow; the refresh runs beside them.
    const deadline = performance.now() + 5_000;
    while (
      !client
        .fleet()
        .hosts.find((host) => host.host === b.url)
        ?.warmModels.includes('qwen3:latest') &&
      performance.now() < deadline
    ) {
      await client.chat(ask('something else'));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(client.fleet().hosts.find((host) => host.host === b.url)?.warmModels).toContain('qwen3:latest');
    // Calls to qwen3 now go to b, where it is warm, with no load of this client's anywhere.
    for (let index = 0; index < 4; index++) {
      const answer = await client.chat(ask(`qwen ${index}`, 'qwen3'));
      expect(answer.message.content).toBe(b.simulatedReply(ask(`qwen ${index}`, 'qwen3')).content);
    }
    expect(b.stats('qwen3').loads).toBe(1);
    expect(a.stats('qwen3').loads).toBe(0);
    // The only load request for qwen3 is the other client's.
    const qwenLoads = [a, b].flatMap((server) =>
      server.requests.filter(
        (entry) =>
          entry.model === 'qwen3' &&
          entry.route === '/api/generate' &&
          (entry.body as { prompt?: unknown }).prompt === '',
      ),
    );
    expect(qwenLoads).toHaveLength(1);
    expect(psRequests(a).length).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('is bounded: one request in flight per host, under its timeout, only while calls flow', async () => {
    const hanging = await sim({ models: ['llama3.2'], faults: [{ route: '/api/ps', kind: 'hang' }] });
    const healthy = await sim({ models: ['llama3.2'] });
    client = new Ollama({
      hosts: [hanging.url, healthy.url],
      fleet: { psRefreshMs: 50, psTimeoutMs: 300 },
    });
    const started = performance.now();
    // Calls flow for about a second.
    while (performance.now() - started < 1_000) {
      await client.chat(ask('flowing'));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const elapsed = performance.now() - started;
    // The hanging host's request is left after 300 ms: at most one per 300 ms, one at a time.
    const onHanging = psRequests(hanging);
    expect(onHanging.length).toBeGreaterThanOrEqual(2);
    expect(onHanging.length).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1);
    for (const [index, entry] of onHanging.entries()) {
      const next = onHanging[index + 1];
      // The next one starts only once this one was left, at its 300 ms timeout.
      if (next) expect(next.startedAt - entry.startedAt).toBeGreaterThanOrEqual(250);
    }
    await expect
      .poll(() => onHanging.every((entry) => entry.outcome === 'client-closed'), { timeout: 2_000 })
      .toBe(true);
    for (const entry of onHanging) expect((entry.endedAt as number) - entry.startedAt).toBeLessThan(1_000);
    // The healthy host answers at once: refreshed about every 50 ms, not more often.
    expect(psRequests(healthy).length).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 1);
    // No calls, no refresh.
    const before = psRequests(healthy).length + psRequests(hanging).length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(psRequests(healthy).length + psRequests(hanging).length).toBe(before);
  }, 30_000);
});
