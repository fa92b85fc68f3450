// The gateway in front of a simulator: the official clients and raw HTTP get the same answers as
// from the simulator itself, and the pipeline's behaviour shows through (503 with Retry-After when
// Bulwark sheds, retries only before the first byte, a client leaving ends the upstream request).
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from './start-gateway.js';
import type { Gateway, GatewayOptions } from './types.js';

let sim: OllamaSim | undefined;
let others: OllamaSim[] = [];
let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  await Promise.all([sim, ...others].map((each) => each?.close()));
  gateway = undefined;
  sim = undefined;
  others = [];
});

async function setUp(
  simOptions: Parameters<typeof startOllamaSim>[0] = {},
  gatewayOptions: Partial<GatewayOptions> = {},
): Promise<{ sim: OllamaSim; gateway: Gateway }> {
  sim = await startOllamaSim(simOptions);
  gateway = await startGateway({ upstream: sim.url, port: 0, env: {}, ...gatewayOptions });
  return { sim, gateway };
}

/** The gateway in front of `count` simulators; `sim` is the first, the one direct calls go to. */
async function setUpFleet(count: number): Promise<void> {
  if (count === 1) {
    await setUp();
    return;
  }
  const sims = await Promise.all(Array.from({ length: count }, () => startOllamaSim()));
  sim = sims[0];
  others = sims.slice(1);
  gateway = await startGateway({ upstreams: sims.map((each) => each.url), port: 0, env: {} });
}

/** Drops the fields that differ between two runs of the same request (times, durations, ids). */
function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (/(^created(_at)?$)|duration$|^id$|^expires_at$|^modified_at$/.test(key)) continue;
      out[key] = stable(item);
    }
    return out;
  }
  return value;
}

async function raw(base: string, path: string, init: RequestInit = {}) {
  const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    retryAfter: response.headers.get('retry-after'),
    text: await response.text(),
  };
}

const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

describe.each([1, 2])('startGateway(): the official clients see %i simulator(s) as one Ollama', (count) => {
  it('ollama-js: chat, generate, embed, list, show and errors answer as they do directly', async () => {
    await setUpFleet(count);
    const direct = new Ollama({ host: sim?.url });
    const through = new Ollama({ host: gateway?.url });
    const calls: Array<(client: Ollama) => Promise<unknown>> = [
      (client) => client.chat({ model: 'llama3.2', messages }),
      (client) => client.generate({ model: 'llama3.2', prompt: 'Once upon a time' }),
      (client) => client.embed({ model: 'nomic-embed-text', input: ['a', 'b'] }),
      (client) => client.list(),
      (client) => client.show({ model: 'qwen3' }),
      (client) => client.version(),
      async (client) => {
        const parts: unknown[] = [];
        for await (const part of await client.chat({ model: 'qwen3', messages, stream: true, think: true })) {
          parts.push(part);
        }
        return parts;
      },
      (client) =>
        client
          .chat({ model: 'no-such-model', messages })
          .catch((error: { status_code?: number; error?: string }) => ({
            status: error.status_code,
            error: error.error,
          })),
    ];
    for (const call of calls) {
      expect(stable(await call(through))).toEqual(stable(await call(direct)));
    }
    const streamed = (await calls[6]?.(through)) as unknown[];
    expect(streamed.length).toBeGreaterThan(10);
  });

  it('openai: chat completions (single and streamed), models and errors answer as they do directly', async () => {
    await setUpFleet(count);
    const direct = new OpenAI({ baseURL: `${sim?.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const through = new OpenAI({ baseURL: `${gateway?.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
    const calls: Array<(client: OpenAI) => Promise<unknown>> = [
      (client) =>
        client.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
      async (client) => {
        const chunks: unknown[] = [];
        const stream = await client.chat.completions.create({
          model: 'llama3.2',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        });
        for await (const chunk of stream) chunks.push(chunk);
        return chunks;
      },
      (client) => client.models.list().then((page) => page.data),
      (client) => client.embeddings.create({ model: 'nomic-embed-text', input: 'hello' }),
      (client) =>
        client.chat.completions
          .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] })
          .catch((error: { status?: number; error?: unknown }) => ({
            status: error.status,
            error: error.error,
          })),
    ];
    for (const call of calls) {
      expect(stable(await call(through))).toEqual(stable(await call(direct)));
    }
  });

  it('raw HTTP: statuses, content types and bodies match, errors included', async () => {
    await setUpFleet(count);
    const cases: Array<[string, RequestInit]> = [
      ['/api/tags', {}],
      ['/api/tags/', { redirect: 'manual' }],
      ['/api/version', {}],
      ['/api/version', { method: 'HEAD' }],
      ['/', {}],
      ['/nope', {}],
      ['/api/chat', { method: 'GET' }],
      ['/api/chat', { method: 'POST', body: '{"model":' }],
      ['/api/chat', { method: 'POST', body: JSON.stringify({ messages }) }],
      [
        '/api/generate',
        { method: 'POST', body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false }) },
      ],
      ['/v1/models', {}],
      ['/v1/chat/completions', { method: 'POST', body: '{}' }],
    ];
    for (const [path, init] of cases) {
      const through = await raw(gateway?.url ?? '', path, init);
      const direct = await raw(sim?.url ?? '', path, init);
      expect({ path, ...through, text: stable(parse(through.text)) }).toEqual({
        path,
        ...direct,
        text: stable(parse(direct.text)),
      });
    }
  });

  it('curl: status lines, streamed NDJSON and errors match', async () => {
    await setUpFleet(count);
    const cases: string[][] = [
      ['/api/tags'],
      ['/api/chat', '-d', JSON.stringify({ model: 'llama3.2', messages })],
      ['/api/generate', '-d', JSON.stringify({ model: 'qwen3', prompt: 'hi', stream: false })],
      ['/api/chat', '-d', JSON.stringify({ model: 'no-such-model', messages })],
      [
        '/v1/chat/completions',
        '-H',
        'content-type: application/json',
        '-d',
        JSON.stringify({ model: 'llama3.2', messages, stream: true }),
      ],
    ];
    for (const [path, ...args] of cases) {
      const through = await curl(`${gateway?.url}${path}`, args);
      const direct = await curl(`${sim?.url}${path}`, args);
      expect({ path, ...through, body: comparable(through.body) }).toEqual({
        path,
        ...direct,
        body: comparable(direct.body),
      });
    }
  });
});

/** Runs curl (status code on the last line), bounded in time. */
function curl(url: string, args: string[]): Promise<{ status: string; body: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '-N', '--max-time', '10', '-w', '\\n%{http_code}', url, ...args],
      { timeout: 15_000 },
      (error, stdout) => {
        if (error) return reject(error);
        const cut = stdout.lastIndexOf('\n');
        resolve({ body: stdout.slice(0, cut), status: stdout.slice(cut + 1) });
      },
    );
  });
}

/** NDJSON, server-sent events or JSON, with the fields that differ between runs dropped. */
function comparable(body: string): unknown {
  return body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => stable(parse(line.startsWith('data: ') ? line.slice(6) : line)));
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

describe('startGateway(): the pipeline', () => {
  it('retries a 503 before the first byte: the client sees one good answer, the simulator two requests', async () => {
    await setUp({ faults: [{ route: '/api/chat', nth: 1, status: 503 }] }, { retry: { initialDelayMs: 1 } });
    const answer = await new Ollama({ host: gateway?.url }).chat({ model: 'llama3.2', messages });
    expect(answer.message.content).toBe(sim?.simulatedReply({ model: 'llama3.2', messages }).content);
    expect(sim?.requests.map((request) => request.status)).toEqual([503, 200]);
  });

  it('replays a stream that failed before its first byte: the client sees the whole answer once', async () => {
    await setUp(
      { faults: [{ route: '/api/chat', nth: 1, kind: 'reset', afterChunks: 0 }] },
      { retry: { initialDelayMs: 1 } },
    );
    const parts: string[] = [];
    for await (const part of await new Ollama({ host: gateway?.url }).chat({
      model: 'llama3.2',
      messages,
      stream: true,
    })) {
      parts.push(part.message.content);
    }
    expect(parts.join('')).toBe(sim?.simulatedReply({ model: 'llama3.2', messages }).content);
    expect(sim?.requests.map((request) => request.outcome)).toEqual(['destroyed', 'completed']);
  });

  it('never replays a stream once bytes reached the client: a reset mid-stream cuts the client', async () => {
    await setUp({ faults: [{ route: '/api/chat', kind: 'reset', afterChunks: 3 }] });
    const parts: string[] = [];
    const failure = await (async () => {
      for await (const part of await new Ollama({ host: gateway?.url }).chat({
        model: 'llama3.2',
        messages,
        stream: true,
      })) {
        parts.push(part.message.content);
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect(parts).toHaveLength(3);
    expect(sim?.requests).toHaveLength(1);
  });

  it('answers 503 with Retry-After when the bulkhead is full, in each dialect', async () => {
    await setUp(
      { faults: [{ route: '/api/chat', nth: 1, kind: 'hang' }] },
      { bulkhead: { limit: 1, queue: 0 } },
    );
    const hung = fetch(`${gateway?.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    await sim?.waitForRequests(1, { timeoutMs: 5_000 });
    const shed = await raw(gateway?.url ?? '', '/api/chat', {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages }),
    });
    expect(shed.status).toBe(503);
    expect(shed.retryAfter).toBe('1');
    expect(JSON.parse(shed.text)).toEqual({ error: expect.stringContaining('Bulkhead "llama3.2" is full') });
    const openai = await raw(gateway?.url ?? '', '/v1/chat/completions', {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages }),
    });
    expect(openai.status).toBe(503);
    expect(JSON.parse(openai.text)).toEqual({
      error: { message: expect.stringContaining('is full'), type: 'api_error', param: null, code: null },
    });
    expect(sim?.requests).toHaveLength(1);
    await gateway?.close();
    await hung;
  });

  it('answers 503 with Retry-After from the breaker once it opens, without calling the upstream', async () => {
    await setUp(
      { faults: [{ route: '/api/chat', status: 500 }] },
      { maxRetries: 0, breaker: { halfOpenAfterMs: 30_000 } },
    );
    const body = JSON.stringify({ model: 'llama3.2', messages, stream: false });
    for (let index = 0; index < 5; index++) {
      expect((await raw(gateway?.url ?? '', '/api/chat', { method: 'POST', body })).status).toBe(500);
    }
    const open = await raw(gateway?.url ?? '', '/api/chat', { method: 'POST', body });
    expect(open.status).toBe(503);
    expect(Number(open.retryAfter)).toBeGreaterThanOrEqual(29);
    expect(Number(open.retryAfter)).toBeLessThanOrEqual(30);
    expect(JSON.parse(open.text).error).toContain('Circuit breaker "llama3.2" is open');
    expect(sim?.requests).toHaveLength(5);
  });

  it('a client that breaks a stream ends the upstream request within 100 ms', async () => {
    await setUp({ tokenDelayMs: 20, replyTokens: 500 });
    const body = JSON.stringify({ model: 'llama3.2', messages });
    /** Streams, leaves after 3 lines, and returns how long the simulator took to see it. */
    const breakOnce = async (): Promise<number> => {
      const before = sim?.requests.length ?? 0;
      const destroyedAt = await new Promise<number>((resolve, reject) => {
        const request = httpRequest(`${gateway?.url}/api/chat`, { method: 'POST' }, (response) => {
          let lines = 0;
          response.on('data', (chunk: Buffer) => {
            lines += chunk.toString().split('\n').length - 1;
            if (lines >= 3 && !request.destroyed) {
              const at = Date.now();
              request.destroy();
              resolve(at);
            }
          });
        });
        request.on('error', () => {});
        request.setTimeout(10_000, () => reject(new Error('no stream within 10 s')));
        request.end(body);
      });
      const record = sim?.requests[before];
      const deadline = Date.now() + 2_000;
      while (record?.endedAt === undefined && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      // Without the abort the simulator would stream on for 10 s and end 'completed'.
      expect(record?.outcome).toBe('client-closed');
      return (record?.endedAt ?? Number.POSITIVE_INFINITY) - destroyedAt;
    };
    // A loaded machine can stall this one process for a while: the best of three trials counts.
    const lags: number[] = [];
    for (let trial = 0; trial < 3 && !lags.some((lag) => lag < 100); trial++) lags.push(await breakOnce());
    expect(Math.min(...lags), `lags: ${lags.join(', ')} ms`).toBeLessThan(100);
    expect(sim?.stats().inFlight).toBe(0);
  });

  it('refuses a body over maxBodyBytes with 413 before calling the upstream', async () => {
    await setUp({}, { maxBodyBytes: 1_000 });
    const big = JSON.stringify({ model: 'llama3.2', prompt: 'x'.repeat(2_000) });
    const declared = await raw(gateway?.url ?? '', '/api/generate', { method: 'POST', body: big });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text)).toEqual({ error: 'request body exceeds 1000 bytes' });
    // A chunked body without a length is cut as soon as it passes the limit.
    const chunked = await raw(gateway?.url ?? '', '/v1/completions', {
      method: 'POST',
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.text).error.message).toBe('request body exceeds 1000 bytes');
    expect(sim?.requests).toHaveLength(0);
    const small = await raw(gateway?.url ?? '', '/api/generate', {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false }),
    });
    expect(small.status).toBe(200);
  });

  it('checks Authorization against its keys, never forwards or echoes them', async () => {
    await setUp({}, { apiKeys: ['key-one-secret', 'key-two-secret'] });
    const body = JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false });
    const none = await raw(gateway?.url ?? '', '/api/generate', { method: 'POST', body });
    expect(none.status).toBe(401);
    const wrong = await raw(gateway?.url ?? '', '/api/generate', {
      method: 'POST',
      body,
      headers: { authorization: 'Bearer key-one-secreT' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('secret');
    const openai = new OpenAI({ baseURL: `${gateway?.url}/v1`, apiKey: 'key-two-secret', maxRetries: 0 });
    expect((await openai.models.list()).data.length).toBeGreaterThan(0);
    const ollama = new Ollama({ host: gateway?.url, headers: { Authorization: 'Bearer key-one-secret' } });
    expect((await ollama.generate({ model: 'llama3.2', prompt: 'x' })).done).toBe(true);
    expect(sim?.requests).toHaveLength(2);
    for (const record of sim?.requests ?? []) expect(record.headers.authorization).toBeUndefined();
  });

  it('serves /healthz, /readyz (503 once the upstream is gone) and /metrics in Prometheus text', async () => {
    await setUp({}, { refreshMs: 100 });
    await new Ollama({ host: gateway?.url }).chat({ model: 'llama3.2', messages, stream: false });
    expect((await raw(gateway?.url ?? '', '/healthz')).status).toBe(200);
    const ready = await raw(gateway?.url ?? '', '/readyz');
    expect(ready.status).toBe(200);
    const metrics = await raw(gateway?.url ?? '', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/bulwark_gateway_requests_total\{[^}]*http_route="\/api\/chat"[^}]*\} 1/);
    expect(metrics.text).toMatch(/bulwark_gateway_time_to_first_chunk_count\{[^}]*\} 1/);
    await sim?.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const gone = await raw(gateway?.url ?? '', '/readyz');
    expect(gone.status).toBe(503);
    expect(JSON.parse(gone.text).upstreams).toEqual([
      expect.objectContaining({ url: sim?.url, state: 'down' }),
    ]);
  });
});

describe('startGateway(): options', () => {
  it('refuses an upstream list in "upstream", both options, duplicates, a bad URL and unknown options, naming them', async () => {
    await expect(startGateway({ upstream: ['http://a:1', 'http://b:2'] as never })).rejects.toThrow(
      /"upstream" must be one URL; give several as "upstreams"/,
    );
    await expect(startGateway({ upstream: 'http://a:1', upstreams: ['http://b:2'] })).rejects.toThrow(
      /either option "upstream" or option "upstreams", not both/,
    );
    await expect(startGateway({ upstreams: [] })).rejects.toThrow(/"upstreams" must be a non-empty array/);
    await expect(startGateway({ upstreams: ['http://a:1', 'http://a:1/'] })).rejects.toThrow(
      /"upstreams" names http:\/\/a:1 twice/,
    );
    await expect(startGateway({ upstreams: ['http://a:1', 'ftp://b'] })).rejects.toThrow(
      /"upstreams\[1\]" must be an http: or https: URL/,
    );
    await expect(startGateway({ upstream: 'ftp://x' })).rejects.toThrow(
      /"upstream" must be an http: or https: URL/,
    );
    await expect(startGateway({ upstream: 'http://x', ports: 1 } as never)).rejects.toThrow(
      /unknown option "ports"/,
    );
    await expect(startGateway({ upstream: 'http://x', apiKeys: ['s3cret', 7] as never })).rejects.toThrow(
      /"apiKeys" must be an array of non-empty strings$/,
    );
  });
});
