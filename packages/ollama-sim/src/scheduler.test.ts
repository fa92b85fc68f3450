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

  it('blocks /api/ps while a model loads', async () => {
    sim = await startOllamaSim({ models: [{ name: 'cold', loadMs: 250 }] });
    const loading = chatText('cold');
    await until(() => sim.stats('cold').loads === 1);
    const started = performance.now();
    const ps = JSON.parse(await (await fetch(`${sim.url}/api/ps`)).text());
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(ps.models.map((model: { name: string }) => model.name)).toEqual(['cold:latest']);
    await loading;
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
  it('answers 503 when more requests wait for a load than maxQueue allows', async () => {
    sim = await startOllamaSim({ maxQueue: 1, models: [{ name: 'cold', loadMs: 300 }] });
    // One loads, one waits for that load, one sits in the queue; the rest are refused.
    const answers = await Promise.all(Array.from({ length: 5 }, () => chatText('cold', { stream: false })));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 200, 503, 503]);
    const busy = answers.find((answer) => answer.status === 503);
    expect(busy?.text).toBe(`{"error":"${SERVER_BUSY_MESSAGE}"}`);
    expect(SERVER_BUSY_MESSAGE).toBe('server busy, please try again.  maximum pending requests exceeded');
    expect(busy?.headers.get('retry-after')).toBeNull();
  });

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

  it('drops a queued request at once when its client leaves', async () => {
    sim = await startOllamaSim({ maxQueue: 1, models: [{ name: 'cold', loadMs: 300 }] });
    const loading = chatText('cold');
    await until(() => sim.stats('cold').loads === 1);
    const waitingForLoad = chatText('cold');
    await sim.waitForRequests(2);
    const leaving = new AbortController();
    const queued = chat('cold', {}, leaving.signal).catch(() => 'aborted');
    await until(() => sim.stats('cold').queued === 1);
    leaving.abort();
    await until(() => sim.stats('cold').queued === 0);
    // The place is free again: a new request is queued rather than refused.
    const next = chatText('cold');
    await Promise.all([loading, waitingForLoad, queued]);
    expect((await next).status).toBe(200);
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
