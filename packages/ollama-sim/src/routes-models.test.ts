import { afterEach, describe, expect, it } from 'vitest';
import { startOllamaSim } from './server.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  await sim?.close();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    redirect: 'manual',
  });
  return { response, text: await response.text() };
}

describe('model routes', () => {
  it('lists models with realistic details on /api/tags (GET and HEAD)', async () => {
    sim = await startOllamaSim();
    const { response, text } = await call('GET', '/api/tags');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = JSON.parse(text);
    expect(body.models.map((model: { name: string }) => model.name)).toEqual([
      'llama3.2:latest',
      'qwen3:latest',
      'gemma3:latest',
      'nomic-embed-text:latest',
    ]);
    const llama = body.models[0];
    expect(Object.keys(llama)).toEqual([
      'name',
      'model',
      'modified_at',
      'size',
      'digest',
      'details',
      'capabilities',
    ]);
    expect(llama.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(llama.details).toEqual({
      parent_model: '',
      format: 'gguf',
      family: 'llama',
      families: ['llama'],
      parameter_size: '3.2B',
      quantization_level: 'Q4_K_M',
      context_length: 131_072,
      embedding_length: 3072,
    });
    expect(llama.capabilities).toEqual(['completion', 'tools']);
    expect(body.models[3].capabilities).toEqual(['embedding']);
    expect(body.models[3].details.embedding_length).toBe(768);
    const head = await call('HEAD', '/api/tags');
    expect(head.response.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('lists the most recently modified model first on /api/tags', async () => {
    sim = await startOllamaSim({
      models: [
        { name: 'old', modifiedAt: '2024-01-01T00:00:00Z' },
        { name: 'new', modifiedAt: '2025-06-01T00:00:00Z' },
        { name: 'middle', modifiedAt: '2024-06-01T00:00:00Z' },
      ],
    });
    const names = async () =>
      JSON.parse((await call('GET', '/api/tags')).text).models.map((model: { name: string }) => model.name);
    expect(await names()).toEqual(['new:latest', 'middle:latest', 'old:latest']);
    // A model created now is the newest.
    const created = await call('POST', '/api/create', { model: 'mine', from: 'old', stream: false });
    expect(created.response.status).toBe(200);
    expect(await names()).toEqual(['mine:latest', 'new:latest', 'middle:latest', 'old:latest']);
  });

  it('shows a model and 404s an unknown one with the shortest name', async () => {
    sim = await startOllamaSim();
    const { text } = await call('POST', '/api/show', { model: 'qwen3' });
    const body = JSON.parse(text);
    expect(body.capabilities).toEqual(['completion', 'tools', 'thinking']);
    expect(body.details.family).toBe('qwen3');
    expect(body.model_info['qwen3.context_length']).toBe(40_960);
    expect(Object.keys(body.model_info)).toEqual([...Object.keys(body.model_info)].sort());
    expect(body.modelfile).toContain('FROM ');
    expect(typeof body.template).toBe('string');
    expect(body.modified_at).toMatch(/^\d{4}-/);
    const byName = await call('POST', '/api/show', { name: 'nomic-embed-text' });
    expect(JSON.parse(byName.text).capabilities).toEqual(['embedding']);
    const missing = await call('POST', '/api/show', { model: 'nope' });
    expect(missing.response.status).toBe(404);
    expect(missing.text).toBe('{"error":"model \'nope:latest\' not found"}');
    const none = await call('POST', '/api/show', {});
    expect(none.response.status).toBe(400);
    expect(none.text).toBe('{"error":"model is required"}');
  });

  it('shows system (from a create), parser, renderer, requires, and the verbose arrays and tensors', async () => {
    sim = await startOllamaSim({
      models: [
        'llama3.2',
        { name: 'coder', parser: 'qwen3-coder', renderer: 'qwen3-coder', requires: '0.12.0' },
      ],
    });
    const coder = JSON.parse((await call('POST', '/api/show', { model: 'coder' })).text);
    expect(coder).toMatchObject({ parser: 'qwen3-coder', renderer: 'qwen3-coder', requires: '0.12.0' });
    expect(Object.keys(coder)).toEqual([
      'modelfile',
      'template',
      'renderer',
      'parser',
      'details',
      'model_info',
      'capabilities',
      'modified_at',
      'requires',
    ]);
    expect(coder.model_info['tokenizer.ggml.tokens']).toEqual([]);
    expect(coder.tensors).toBeUndefined();
    const created = await call('POST', '/api/create', {
      model: 'pirate',
      from: 'llama3.2',
      system: 'You are a pirate.',
      stream: false,
    });
    expect(created.response.status).toBe(200);
    const pirate = JSON.parse((await call('POST', '/api/show', { model: 'pirate' })).text);
    expect(pirate.system).toBe('You are a pirate.');
    expect(JSON.parse((await call('POST', '/api/show', { model: 'llama3.2' })).text).system).toBeUndefined();
    const overridden = JSON.parse(
      (await call('POST', '/api/show', { model: 'pirate', system: 'Be brief.' })).text,
    );
    expect(overridden.system).toBe('Be brief.');
    const verbose = JSON.parse((await call('POST', '/api/show', { model: 'llama3.2', verbose: true })).text);
    expect(verbose.model_info['tokenizer.ggml.tokens'].length).toBeGreaterThan(5);
    expect(verbose.model_info['tokenizer.ggml.token_type']).toHaveLength(
      verbose.model_info['tokenizer.ggml.tokens'].length,
    );
    expect(verbose.tensors[0]).toEqual({ name: 'token_embd.weight', type: 'Q4_K', shape: [3072, 32_000] });
    expect(Object.keys(verbose).indexOf('tensors')).toBe(Object.keys(verbose).indexOf('model_info') + 1);
  });

  it('lists loaded models on /api/ps with expires_at from keep_alive', async () => {
    sim = await startOllamaSim();
    expect(JSON.parse((await call('GET', '/api/ps')).text)).toEqual({ models: [] });
    const before = Date.now();
    await call('POST', '/api/generate', { model: 'llama3.2', keep_alive: '10m' });
    const { text } = await call('GET', '/api/ps');
    const models = JSON.parse(text).models;
    expect(models).toHaveLength(1);
    expect(Object.keys(models[0])).toEqual([
      'name',
      'model',
      'size',
      'digest',
      'details',
      'expires_at',
      'size_vram',
      'context_length',
    ]);
    expect(models[0].name).toBe('llama3.2:latest');
    const expires = Date.parse(models[0].expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 600_000 + 1000);
    expect(models[0].context_length).toBe(4096);
  });

  it('copies and deletes models with empty 200 answers', async () => {
    sim = await startOllamaSim();
    const copy = await call('POST', '/api/copy', { source: 'llama3.2', destination: 'my-llama' });
    expect(copy.response.status).toBe(200);
    expect(copy.text).toBe('');
    expect(copy.response.headers.get('content-length')).toBe('0');
    expect(sim.modelNames()).toContain('my-llama:latest');
    const chat = await call('POST', '/api/chat', {
      model: 'my-llama',
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
    });
    expect(chat.response.status).toBe(200);
    const missing = await call('POST', '/api/copy', { source: 'nope', destination: 'x' });
    expect(missing.response.status).toBe(404);
    expect(missing.text).toBe('{"error":"model \\"nope\\" not found"}');
    const invalid = await call('POST', '/api/copy', { source: 'llama3.2', destination: '' });
    expect(invalid.response.status).toBe(400);
    expect(invalid.text).toBe('{"error":"destination \\"\\" is invalid"}');

    const deleted = await call('DELETE', '/api/delete', { model: 'my-llama' });
    expect(deleted.response.status).toBe(200);
    expect(deleted.text).toBe('');
    expect(sim.modelNames()).not.toContain('my-llama:latest');
    const again = await call('DELETE', '/api/delete', { model: 'my-llama' });
    expect(again.response.status).toBe(404);
    expect(again.text).toBe('{"error":"model \'my-llama\' not found"}');
  });

  it('pulls with progress lines and adds the model', async () => {
    sim = await startOllamaSim();
    const { response, text } = await call('POST', '/api/pull', { model: 'mistral' });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const statuses = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(statuses[0]).toEqual({ status: 'pulling manifest' });
    const layer = statuses.find((line) => line.total > 1_000_000);
    expect(layer.status).toMatch(/^pulling [0-9a-f]{12}$/);
    expect(layer.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(
      statuses.filter((line) => line.digest === layer.digest).map((line) => line.completed ?? 0),
    ).toEqual(
      [...statuses.filter((line) => line.digest === layer.digest).map((line) => line.completed ?? 0)].sort(
        (a, b) => a - b,
      ),
    );
    expect(statuses.slice(-3).map((line) => line.status)).toEqual([
      'verifying sha256 digest',
      'writing manifest',
      'success',
    ]);
    expect(sim.modelNames()).toContain('mistral:latest');
    const quiet = await call('POST', '/api/pull', { model: 'phi4', stream: false });
    expect(quiet.response.headers.get('content-type')).toBe('application/json');
    expect(quiet.text).toBe('{"status":"success"}');
    const bad = await call('POST', '/api/pull', { model: '' });
    expect(bad.response.status).toBe(400);
    expect(bad.text).toBe('{"error":"invalid model name"}');
  });

  it('fails a pull of a name the registry does not know, in the stream or with 500; pullable declares names', async () => {
    sim = await startOllamaSim();
    const unknown = await call('POST', '/api/pull', { model: 'no-such-model' });
    expect(unknown.response.status).toBe(200);
    expect(unknown.response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(unknown.text).toBe(
      '{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n',
    );
    const quiet = await call('POST', '/api/pull', { model: 'no-such-model', stream: false });
    expect(quiet.response.status).toBe(500);
    expect(quiet.response.headers.get('content-type')).toBe('application/json');
    expect(quiet.text).toBe('{"error":"pull model manifest: file does not exist"}');
    expect(sim.modelNames()).not.toContain('no-such-model:latest');
    await sim.close();
    sim = await startOllamaSim({ pullable: ['team/custom', 'pinned:1b'] });
    expect((await call('POST', '/api/pull', { model: 'team/custom:v2', stream: false })).text).toBe(
      '{"status":"success"}',
    );
    expect((await call('POST', '/api/pull', { model: 'pinned:1b', stream: false })).response.status).toBe(
      200,
    );
    expect((await call('POST', '/api/pull', { model: 'pinned:7b', stream: false })).response.status).toBe(
      500,
    );
    // The default list no longer applies once pullable is given.
    expect((await call('POST', '/api/pull', { model: 'mistral', stream: false })).response.status).toBe(500);
    expect(sim.modelNames()).toEqual(expect.arrayContaining(['team/custom:v2', 'pinned:1b']));
    await expect(startOllamaSim({ pullable: [3] as never })).rejects.toThrow(
      /option "pullable" must be an array of model names/,
    );
  });

  it('pushes a known model and reports an unknown one inside the stream', async () => {
    sim = await startOllamaSim();
    const push = await call('POST', '/api/push', { model: 'llama3.2' });
    const statuses = push.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).status);
    expect(statuses[0]).toBe('retrieving manifest');
    expect(statuses.at(-2)).toBe('pushing manifest');
    expect(statuses.at(-1)).toBe('success');
    const unknown = await call('POST', '/api/push', { model: 'nope' });
    expect(unknown.response.status).toBe(200);
    const last = JSON.parse(unknown.text.trim().split('\n').at(-1) as string);
    expect(last.error).toContain('no such file or directory');
    const none = await call('POST', '/api/push', {});
    expect(none.response.status).toBe(400);
    expect(none.text).toBe('{"error":"model is required"}');
  });

  it('creates a model from another, and fails as Ollama does otherwise', async () => {
    sim = await startOllamaSim();
    const created = await call('POST', '/api/create', {
      model: 'assistant',
      from: 'llama3.2',
      system: 'Be brief.',
    });
    const statuses = created.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).status);
    expect(statuses[0]).toMatch(/^using existing layer sha256:[0-9a-f]{64}$/);
    expect(statuses.slice(-2)).toEqual(['writing manifest', 'success']);
    expect(sim.modelNames()).toContain('assistant:latest');
    const neither = await call('POST', '/api/create', { model: 'x' });
    expect(neither.response.status).toBe(400);
    expect(neither.response.headers.get('content-type')).toBe('application/json');
    expect(neither.text).toBe('{"error":"neither \'from\' or \'files\' was specified"}');
    const unknown = await call('POST', '/api/create', { model: 'y', from: 'nope' });
    expect(unknown.response.status).toBe(200);
    expect(unknown.text).toBe(
      '{"status":"pulling manifest"}\n{"error":"pull model manifest: file does not exist"}\n',
    );
  });

  it('answers /api/version and / like Ollama', async () => {
    sim = await startOllamaSim({ version: '0.12.3' });
    expect((await call('GET', '/api/version')).text).toBe('{"version":"0.12.3"}');
    const root = await call('GET', '/');
    expect(root.response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(root.text).toBe('Ollama is running');
    const head = await call('HEAD', '/');
    expect(head.response.status).toBe(200);
    expect(head.response.headers.get('content-length')).toBe('17');
    expect(head.text).toBe('');
  });

  it('answers 404, 405 and trailing-slash redirects like gin', async () => {
    sim = await startOllamaSim();
    const missing = await call('GET', '/api/nothing');
    expect(missing.response.status).toBe(404);
    expect(missing.response.headers.get('content-type')).toBe('text/plain');
    expect(missing.text).toBe('404 page not found');
    const wrong = await call('GET', '/api/chat');
    expect(wrong.response.status).toBe(405);
    expect(wrong.response.headers.get('allow')).toBe('POST');
    expect(wrong.text).toBe('405 method not allowed');
    const slash = await call('GET', '/api/tags/');
    expect(slash.response.status).toBe(301);
    expect(slash.response.headers.get('location')).toBe('/api/tags');
    const postSlash = await call('POST', '/api/chat/', {});
    expect(postSlash.response.status).toBe(307);
  });
});
