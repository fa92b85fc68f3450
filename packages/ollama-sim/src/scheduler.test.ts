import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_BUSY_MESSAGE } from './scheduler.js';
import { startOllamaSim } from './server.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  await sim?.close();
});

const messages = [{ role: 'user', content: 'hi' }];

function chat(model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) {
  return fetch(`${sim.url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({ model, messages, ...extra }),
    ...(signal && { signal }),
  });
}

async function chatText(model: string, extra: Record<string, unknown> = {}) {
  const response = await chat(model, extra);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await delay(5);
  }
}

describe('parallel slots', () => {
  it('runs one request per model at a time by default; the others wait in arrival order', async () => {
    sim = await startOllamaSim({ models: [{ name: 'slow', tokenDelayMs: 10, replyTokens: 8 }] });
    const first = chatText('slow');
    await sim.waitForRequests(1);
    await until(() => sim.stats('slow').generating === 1);
    const second = chatText('slow');
    await sim.waitForRequests(2);
    await until(() => sim.stats('slow').waitingForSlot === 1);
    const third = chatText('slow');
    await sim.waitForRequests(3);
    await until(() => sim.stats('slow').waitingForSlot === 2);
    const answers = await Promise.all([first, second, third]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    const stats = sim.stats('slow');
    expect(stats.maxGenerating).toBe(1);
    expect(stats.maxInFlight).toBe(3);
    const [a, b, c] = sim.requests;
    expect((a?.headersAt as number) < (b?.headersAt as number)).toBe(true);
    expect((b?.headersAt as number) < (c?.headersAt as number)).toBe(true);
    // Each waited for the previous one to end.
    expect(b?.headersAt as number).toBeGreaterThanOrEqual(a?.endedAt as number);
  });

  it('runs numParallel requests at once', async () => {
    sim = await startOllamaSim({
      numParallel: 2,
      models: [{ name: 'slow', tokenDelayMs: 10, replyTokens: 8 }],
    });
    await Promise.all([chatText('slow'), chatText('slow'), chatText('slow')]);
    expect(sim.stats('slow').maxGenerating).toBe(2);
    expect(sim.stats().maxGenerating).toBe(2);
  });

  it('frees a waiting slot at once when its client leaves, and frees a generating one too', async () => {
    sim = await startOllamaSim({ models: [{ name: 'slow', tokenDelayMs: 20, replyTokens: 20 }] });
    const generating = new AbortController();
    const first = chat('slow', {}, generating.signal)
      .then((response) => response.text())
      .catch(() => 'aborted');
    await until(() => sim.stats('slow').generating === 1);
    const waiting = new AbortController();
    const second = chat('slow', {}, waiting.signal).catch(() => 'aborted');
    await until(() => sim.stats('slow').waitingForSlot === 1);
    waiting.abort();
    await until(() => sim.stats('slow').waitingForSlot === 0);
    expect(sim.stats('slow').generating).toBe(1);
    await second;
    const third = chatText('slow');
    await until(() => sim.stats('slow').waitingForSlot === 1);
    generating.abort();
    await first;
    await until(() => sim.requests[2]?.headersAt !== undefined, 1000);
    expect((await third).status).toBe(200);
    expect(sim.requests[0]?.outcome).toBe('client-closed');
    expect(sim.requests[1]?.outcome).toBe('client-closed');
    expect(sim.requests[1]?.headersAt).toBeUndefined();
  });

  it('sends nothing before the first token: headers wait for load and prompt evaluation', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 150, promptEvalMs: 100 }] });
    const started = performance.now();
    const response = await chat('cold');
    const headersAfter = performance.now() - started;
    await response.text();
    expect(headersAfter).toBeGreaterThanOrEqual(240);
    const record = sim.requests[0];
    expect((record?.headersAt as number) - (record?.startedAt as number)).toBeGreaterThanOrEqual(240);
  });
});

describe('loads and keep-alive', () => {
  it('pays loadMs on first use and again after keep_alive expires', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 120 }] });
    const first = JSON.parse((await chatText('cold', { stream: false, keep_alive: 0.15 })).text);
    expect(first.load_duration).toBeGreaterThanOrEqual(110_000_000);
    const warm = JSON.parse((await chatText('cold', { stream: false, keep_alive: 0.15 })).text);
    expect(warm.load_duration).toBeLessThan(50_000_000);
    expect(sim.stats('cold').loaded).toBe(true);
    await until(() => sim.stats('cold').loaded === false, 2000);
    const again = JSON.parse((await chatText('cold', { stream: false })).text);
    expect(again.load_duration).toBeGreaterThanOrEqual(110_000_000);
    expect(sim.stats('cold').loads).toBe(2);
  });

  it('unloads every idle model on unloadAll(); the next request loads again', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 60 }, 'llama3.2'] });
    await chatText('cold');
    await chatText('llama3.2');
    expect(sim.stats().loaded).toBe(2);
    sim.unloadAll();
    expect(sim.stats().loaded).toBe(0);
    const again = JSON.parse((await chatText('cold', { stream: false })).text);
    expect(again.load_duration).toBeGreaterThanOrEqual(55_000_000);
    expect(sim.stats('cold').loads).toBe(2);
  });

  it('unloads right after the request with keep_alive 0', async () => {
    sim = await startOllamaSim();
    await chatText('llama3.2', { keep_alive: 0 });
    expect(sim.stats('llama3.2').loaded).toBe(false);
  });

  it('aborts a load when the request that triggered it leaves; the next request loads from scratch', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 300 }] });
    const trigger = new AbortController();
    const first = chat('cold', {}, trigger.signal).catch(() => 'aborted');
    await until(() => sim.stats('cold').loads === 1);
    const second = chatText('cold', { stream: false });
    await sim.waitForRequests(2);
    await delay(50);
    trigger.abort();
    await first;
    const answer = await second;
    expect(answer.status).toBe(200);
    expect(sim.stats('cold').loads).toBe(2);
    expect(JSON.parse(answer.text).load_duration).toBeGreaterThanOrEqual(330_000_000);
  });

  it('evicts an idle model beyond maxLoadedModels, and reloads on a num_ctx change', async () => {
    sim = await startOllamaSim({ maxLoadedModels: 1 });
    await chatText('llama3.2');
    await chatText('qwen3');
    let ps = JSON.parse(await (await fetch(`${sim.url}/api/ps`)).text());
    expect(ps.models.map((model: { name: string }) => model.name)).toEqual(['qwen3:latest']);
    await chatText('qwen3', { options: { num_ctx: 8192 } });
    ps = JSON.parse(await (await fetch(`${sim.url}/api/ps`)).text());
    expect(ps.models[0].context_length).toBe(8192);
    expect(sim.stats('qwen3').loads).toBe(2);
  });
});

describe('the scheduling queue', () => {
  it('lets slot waits grow without bound on a warm model, unless boundSlotWait is set', async () => {
    sim = await startOllamaSim({ maxQueue: 1, models: [{ name: 'slow', tokenDelayMs: 5, replyTokens: 10 }] });
    await chatText('slow');
    let answers = await Promise.all(Array.from({ length: 4 }, () => chatText('slow')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    await sim.close();
    sim = await startOllamaSim({
      maxQueue: 1,
      boundSlotWait: true,
      models: [{ name: 'slow', tokenDelayMs: 5, replyTokens: 10 }],
    });
    await chatText('slow');
    answers = await Promise.all(Array.from({ length: 4 }, () => chatText('slow')));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 503, 503]);
  });
});

describe('counters', () => {
  it('tracks the peak of requests in flight and resets it', async () => {
    sim = await startOllamaSim({ models: [{ name: 'slow', tokenDelayMs: 5, replyTokens: 5 }] });
    await Promise.all(Array.from({ length: 4 }, () => chatText('slow')));
    expect(sim.stats('slow')).toMatchObject({
      inFlight: 0,
      maxInFlight: 4,
      generating: 0,
      maxGenerating: 1,
      requests: 4,
    });
    sim.resetStats();
    expect(sim.stats('slow')).toMatchObject({ maxInFlight: 0, maxGenerating: 0, requests: 0, loads: 0 });
    expect(sim.stats()).toMatchObject({ maxInFlight: 0, loaded: 1 });
  });
});

async function ps(): Promise<{ name: string; context_length: number }[]> {
  return JSON.parse(await (await fetch(`${sim.url}/api/ps`)).text()).models;
}

/** Sends a non-streamed chat and notes when its answer arrived, ms after `since`. */
async function timedChat(model: string, since: number, extra: Record<string, unknown> = {}) {
  const answer = await chatText(model, { stream: false, ...extra });
  return { model, status: answer.status, text: answer.text, atMs: performance.now() - since };
}

describe('one load at a time (Ollama 0.30 and later)', () => {
  it('four cold models with maxQueue 1 and loadMs 2000: answers at about 2 s and 4 s, two 503s at once', async () => {
    sim = await startOllamaSim({ maxQueue: 1, loadMs: 2000, models: ['m1', 'm2', 'm3', 'm4'] });
    const started = performance.now();
    const answers = await Promise.all(['m1', 'm2', 'm3', 'm4'].map((model) => timedChat(model, started)));
    const served = answers.filter((answer) => answer.status === 200).sort((a, b) => a.atMs - b.atMs);
    const refused = answers.filter((answer) => answer.status === 503);
    expect(served).toHaveLength(2);
    expect(refused).toHaveLength(2);
    for (const answer of refused) {
      expect(answer.text).toBe(`{"error":"${SERVER_BUSY_MESSAGE}"}`);
      expect(answer.atMs).toBeLessThan(1500);
    }
    const [first, second] = served as [(typeof served)[0], (typeof served)[0]];
    expect(first.atMs).toBeGreaterThanOrEqual(1950);
    expect(first.atMs).toBeLessThan(3900);
    // The second load starts only once the first has ended.
    expect(second.atMs).toBeGreaterThanOrEqual(3900);
    expect(second.atMs - first.atMs).toBeGreaterThanOrEqual(1900);
    expect(second.atMs).toBeLessThan(9000);
    expect(sim.stats().loads).toBe(2);
  }, 20_000);

  it('counts requests waiting on the load of their own model toward maxQueue', async () => {
    sim = await startOllamaSim({ maxQueue: 1, models: [{ name: 'cold', loadMs: 400 }] });
    // One loads (popped from the queue), one waits in the queue for that load; the rest are refused.
    const answers = await Promise.all(Array.from({ length: 5 }, () => chatText('cold', { stream: false })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 503, 503, 503]);
    const busy = answers.find((answer) => answer.status === 503);
    expect(busy?.text).toBe(`{"error":"${SERVER_BUSY_MESSAGE}"}`);
    expect(SERVER_BUSY_MESSAGE).toBe('server busy, please try again.  maximum pending requests exceeded');
    expect(busy?.headers.get('retry-after')).toBeNull();
    expect(sim.stats('cold').loads).toBe(1);
  });

  it('keeps the place of a queued client that left until the scheduler pops it', async () => {
    sim = await startOllamaSim({
      maxQueue: 1,
      models: [
        { name: 'cold', loadMs: 500 },
        { name: 'other', loadMs: 0 },
      ],
    });
    const loading = chatText('cold');
    await until(() => sim.stats('cold').loads === 1);
    const leaving = new AbortController();
    const queued = chat('other', {}, leaving.signal).catch(() => 'aborted');
    await until(() => sim.stats('other').queued === 1);
    leaving.abort();
    await queued;
    await delay(50);
    // Its place is still taken: the queue is full while the load runs.
    expect(sim.stats('other').queued).toBe(1);
    expect((await chatText('other')).status).toBe(503);
    expect((await loading).status).toBe(200);
    // Popped and skipped: never loaded; now a request is admitted again.
    await until(() => sim.stats('other').queued === 0);
    expect(sim.stats('other').loads).toBe(0);
    expect((await chatText('other')).status).toBe(200);
  });

  it('admits one request at a time with maxQueue 0 (an unbuffered channel), not none', async () => {
    sim = await startOllamaSim({ maxQueue: 0, models: [{ name: 'cold', loadMs: 300 }, 'warm'] });
    expect((await chatText('warm')).status).toBe(200);
    const answers = await Promise.all([
      chatText('cold', { stream: false }),
      chatText('cold', { stream: false }),
    ]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 503]);
    // A resident model is served without the queue.
    expect((await chatText('cold')).status).toBe(200);
    expect((await chatText('warm')).status).toBe(200);
  });

  it('answers /api/ps at once during a load, without the model still loading', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 800 }, 'warm'] });
    await chatText('warm');
    const loading = chatText('cold');
    await until(() => sim.stats('cold').loads === 1);
    const started = performance.now();
    const during = await ps();
    expect(performance.now() - started).toBeLessThan(400);
    expect(during.map((model) => model.name)).toEqual(['warm:latest']);
    expect(sim.stats('cold').loaded).toBe(false);
    expect((await loading).status).toBe(200);
    expect((await ps()).map((model) => model.name).sort()).toEqual(['cold:latest', 'warm:latest']);
  });
});

describe('reloads and eviction', () => {
  it('reloads on any runner option change, each reload paying loadMs', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 60 }] });
    const steps: [Record<string, unknown> | undefined, boolean][] = [
      [undefined, true], // first load
      [{ temperature: 0.5, seed: 3 }, false], // not runner options
      [{ num_ctx: 4096 }, false], // explicit, equal to the automatic value in effect
      [{ num_ctx: 8192 }, true],
      [undefined, true], // back to the automatic num_ctx
      [{ num_batch: 256 }, true],
      [{ num_batch: 256, num_thread: 4 }, true],
      [{ num_batch: 256, num_thread: 4, use_mmap: false }, true],
      [{ num_batch: 256, num_thread: 4, use_mmap: false, main_gpu: 1 }, true],
      [{ num_batch: 256, num_thread: 4, use_mmap: false, main_gpu: 1, num_gpu: 10 }, true],
      [{ num_batch: 256, num_thread: 4, use_mmap: false, main_gpu: 1, num_gpu: -1 }, false], // -1: any
      [{ num_batch: 256, num_thread: 4, use_mmap: false, main_gpu: 1, num_gpu: 10 }, false],
    ];
    let loads = 0;
    for (const [index, [options, reloads]] of steps.entries()) {
      const answer = await chatText('cold', { stream: false, ...(options && { options }) });
      expect(answer.status, `step ${index}`).toBe(200);
      const loadNs = JSON.parse(answer.text).load_duration as number;
      if (reloads) loads++;
      expect(sim.stats('cold').loads, `step ${index}: ${JSON.stringify(options)}`).toBe(loads);
      if (reloads) expect(loadNs, `step ${index}`).toBeGreaterThanOrEqual(55_000_000);
      else expect(loadNs, `step ${index}`).toBeLessThan(55_000_000);
    }
    const [entry] = await ps();
    expect(entry?.context_length).toBe(4096);
  });

  it('evicts the idle runner with the shortest keep-alive, ties by name, not the least recently used', async () => {
    sim = await startOllamaSim({ maxLoadedModels: 2, models: ['b-model', 'a-model', 'c-model', 'd-model'] });
    await chatText('b-model', { keep_alive: '10m' });
    await chatText('a-model', { keep_alive: '10m' });
    await chatText('c-model');
    // Same keep-alive: the first by name goes, although b-model was used longer ago.
    expect((await ps()).map((model) => model.name).sort()).toEqual(['b-model:latest', 'c-model:latest']);
    await chatText('b-model', { keep_alive: '1h' });
    await chatText('c-model', { keep_alive: '2m' });
    await chatText('d-model');
    // c-model was used last, but its keep-alive is the shortest.
    expect((await ps()).map((model) => model.name).sort()).toEqual(['b-model:latest', 'd-model:latest']);
  });

  it('gives an embedding model one slot whatever numParallel says', async () => {
    sim = await startOllamaSim({
      numParallel: 4,
      models: [
        { name: 'nomic-embed-text', promptEvalMs: 80 },
        { name: 'chatty', tokenDelayMs: 20, replyTokens: 5 },
      ],
    });
    const embed = () =>
      fetch(`${sim.url}/api/embed`, {
        method: 'POST',
        body: JSON.stringify({ model: 'nomic-embed-text', input: 'hello' }),
      }).then((response) => response.status);
    expect(await Promise.all([embed(), embed(), embed()])).toEqual([200, 200, 200]);
    expect(sim.stats('nomic-embed-text').maxGenerating).toBe(1);
    await Promise.all([chatText('chatty'), chatText('chatty'), chatText('chatty')]);
    expect(sim.stats('chatty').maxGenerating).toBe(3);
  });
});
