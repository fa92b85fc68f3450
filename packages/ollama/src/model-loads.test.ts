import {
  InvalidOptionError,
  type ModelLoadEndEvent,
  type ModelLoadStartEvent,
  ResponseError,
  TimeoutError,
} from '@bulwark/core';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { keepAliveMs } from './keep-alive.js';
import { Ollama } from './ollama.js';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await sim?.close();
  client = undefined;
  sim = undefined;
});

const ask = (model = 'llama3.2') => ({ model, messages: [{ role: 'user', content: 'hello' }] });
const isLoadRequest = (body: unknown) =>
  typeof body === 'object' &&
  body !== null &&
  ((body as { prompt?: unknown }).prompt === '' ||
    (Array.isArray((body as { input?: unknown }).input) &&
      (body as { input: unknown[] }).input.length === 0));

describe('keepAliveMs()', () => {
  it('reads numbers as seconds and Go durations, negative as forever, and refuses what Ollama refuses', () => {
    expect(keepAliveMs(30)).toBe(30_000);
    expect(keepAliveMs(0)).toBe(0);
    expect(keepAliveMs(-1)).toBe(Number.POSITIVE_INFINITY);
    expect(keepAliveMs('5m')).toBe(300_000);
    expect(keepAliveMs('1h30m')).toBe(5_400_000);
    expect(keepAliveMs('1.5s')).toBe(1_500);
    expect(keepAliveMs('250ms')).toBe(250);
    expect(keepAliveMs('-1m')).toBe(Number.POSITIVE_INFINITY);
    expect(keepAliveMs('0')).toBe(0);
    expect(keepAliveMs('10')).toBeUndefined();
    expect(keepAliveMs('soon')).toBeUndefined();
    expect(keepAliveMs(Number.NaN)).toBeUndefined();
  });
});

describe('model loads owned by the client', () => {
  it('reports each load start and end with its duration and outcome, and shows the state', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 300 });
    client = new Ollama({ host: sim.url });
    const starts: ModelLoadStartEvent[] = [];
    const ends: ModelLoadEndEvent[] = [];
    client.onLoadStart((event) => starts.push(event));
    const subscription = client.onLoadEnd((event) => ends.push(event));
    const pending = client.chat(ask());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.modelStates()).toMatchObject([{ host: sim.url, model: 'llama3.2', state: 'loading' }]);
    await pending;
    expect(starts).toMatchObject([{ host: sim.url, model: 'llama3.2' }]);
    expect(ends).toMatchObject([{ host: sim.url, model: 'llama3.2', outcome: 'loaded', error: undefined }]);
    expect(ends[0]?.durationMs).toBeGreaterThanOrEqual(250);
    const [state] = client.modelStates();
    expect(state).toMatchObject({ state: 'warm', loadingSince: undefined });
    expect(state?.lastLoadMs).toBeGreaterThanOrEqual(250);
    // about the server's default keep-alive (5 minutes) from now
    expect((state?.expiresAt ?? 0) - Date.now()).toBeGreaterThan(290_000);
    expect(Object.isFrozen(state)).toBe(true);
    subscription.dispose();
    await client.unload('llama3.2');
    await client.chat(ask());
    expect(ends).toHaveLength(1);
    expect(starts).toHaveLength(2);
  });

  it("a caller's signal ends its wait at once with its own reason; the load goes on and the next call finds the model warm", async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 800 });
    client = new Ollama({ host: sim.url });
    const controller = new AbortController();
    const reason = new Error('mine');
    setTimeout(() => controller.abort(reason), 200);
    const started = Date.now();
    await expect(client.chat(ask(), { signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(600);
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(client.modelStates()).toMatchObject([{ state: 'warm' }]);
    await client.chat(ask());
    expect(sim.stats().loads).toBe(1);
    expect(sim.requests.filter((request) => isLoadRequest(request.body))).toHaveLength(1);
  });

  it('a load that outlasts loadMs stops and fails its waiters with phase load', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 5_000 });
    client = new Ollama({ host: sim.url, loadMs: 300 });
    const ends: ModelLoadEndEvent[] = [];
    client.onLoadEnd((event) => ends.push(event));
    const error = await client.chat(ask()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'load', timeoutMs: 300 });
    expect((error as Error).message).toContain('waiting for model "llama3.2" to load on');
    expect((error as Error).message).toContain('the load was stopped');
    expect(ends).toMatchObject([{ outcome: 'timeout' }]);
    expect(client.modelStates()).toMatchObject([{ state: 'cold' }]);
  });

  it('load() loads with the given keep-alive and joins a running load; an embedding model loads by an empty embed', async () => {
    sim = await startOllamaSim({ models: ['llama3.2', 'nomic-embed-text'], loadMs: 200 });
    client = new Ollama({ host: sim.url });
    await Promise.all([client.load('llama3.2', { keepAlive: '10m' }), client.load('llama3.2')]);
    expect(sim.stats().loads).toBe(1);
    expect(sim.requests[0]?.body).toMatchObject({ model: 'llama3.2', prompt: '', keep_alive: '10m' });
    const [state] = client.modelStates();
    expect((state?.expiresAt ?? 0) - Date.now()).toBeGreaterThan(590_000);
    // a call to it now goes out at once
    await client.chat(ask());
    expect(sim.requests).toHaveLength(2);
    // an embed call loads its model with an empty embed
    await client.embed({ model: 'nomic-embed-text', input: 'hello' });
    expect(sim.requests.slice(2).map((request) => [request.route, isLoadRequest(request.body)])).toEqual([
      ['/api/embed', true],
      ['/api/embed', false],
    ]);
    // load() of an embedding model it has never seen: generate answers 400, then an empty embed loads it
    await client.unload('nomic-embed-text');
    const fresh = new Ollama({ host: sim.url });
    try {
      await fresh.load('nomic-embed-text');
      expect(fresh.modelStates()).toMatchObject([{ model: 'nomic-embed-text', state: 'warm' }]);
    } finally {
      await fresh.close();
    }
  });

  it('learns from /api/ps: listed models warm until expires_at, others cold', async () => {
    sim = await startOllamaSim({ models: ['llama3.2', 'gemma3'] });
    client = new Ollama({ host: sim.url });
    await client.chat(ask('llama3.2'));
    await client.chat(ask('gemma3'));
    const other = new Ollama({ host: sim.url, modelState: false });
    await other.unload('gemma3');
    await other.close();
    expect(client.modelStates().map((state) => state.state)).toEqual(['warm', 'warm']);
    await client.ps();
    expect(Object.fromEntries(client.modelStates().map((state) => [state.model, state.state]))).toEqual({
      'llama3.2': 'warm',
      gemma3: 'cold',
    });
    const before = sim.requests.length;
    await client.chat(ask('gemma3'));
    expect(sim.requests.length - before).toBe(2);
  });

  it('modelState: false sends every call as it is, and load() says the mechanism is off', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 100 });
    client = new Ollama({ host: sim.url, modelState: false });
    await client.chat(ask());
    await client.chat(ask());
    expect(sim.requests.map((request) => request.route)).toEqual(['/api/chat', '/api/chat']);
    expect(client.modelStates()).toEqual([]);
    await expect(client.load('llama3.2')).rejects.toThrow(/modelState: false/);
  });

  it('rejects bad options naming them', async () => {
    expect(() => new Ollama({ loadMs: -1 })).toThrow(/option "loadMs"/);
    expect(() => new Ollama({ modelState: { maxModels: 0 } })).toThrow(/option "maxModels"/);
    expect(() => new Ollama({ modelState: 'on' as never })).toThrow(/option "modelState"/);
    const ollama = new Ollama({ host: 'http://127.0.0.1:9' });
    await expect(ollama.load('llama3.2', { keepAlive: '10' })).rejects.toThrow(/"keepAlive".*"10"/);
    await expect(ollama.load('')).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(ollama.load('llama3.2', { signal: 'x' as never })).rejects.toThrow(/"signal"/);
    await ollama.close();
  });

  it('close() stops a load in flight: its waiters fail and the load ends as aborted', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'], loadMs: 5_000 });
    const ollama = new Ollama({ host: sim.url });
    const ends: ModelLoadEndEvent[] = [];
    ollama.onLoadEnd((event) => ends.push(event));
    const pending = ollama.chat(ask()).catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await ollama.close();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(ends).toMatchObject([{ outcome: 'aborted' }]);
  });

  it('forgets a model the server does not have', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'] });
    client = new Ollama({ host: sim.url });
    await expect(client.chat(ask('nope'))).rejects.toBeInstanceOf(ResponseError);
    expect(client.modelStates()).toEqual([]);
  });
});
