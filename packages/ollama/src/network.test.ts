import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionError, type ResponseError, type TimeoutError } from '@bulwark/core';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Ollama } from './ollama.js';
import { USER_AGENT, VERSION } from './version.js';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;
const servers: Server[] = [];

beforeEach(() => {
  // The machine's own proxy settings, in either case, must not leak into these tests.
  for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY'])
    vi.stubEnv(name, undefined);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await client?.close();
  await sim?.close();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  client = undefined;
  sim = undefined;
});

/** Sends `incoming` on to `target` (an absolute URL) and pipes the answer back. */
function forward(incoming: IncomingMessage, response: import('node:http').ServerResponse, target: URL): void {
  const outgoing = httpRequest(
    target,
    { method: incoming.method, headers: { ...incoming.headers, host: target.host } },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  outgoing.on('error', () => response.destroy());
  incoming.pipe(outgoing);
}

/** A loopback HTTP server; `seen` lists each request's method and URL as received. */
async function listen(
  handle: (incoming: IncomingMessage, response: import('node:http').ServerResponse) => void,
): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((incoming, response) => {
    seen.push(`${incoming.method} ${incoming.url}`);
    handle(incoming, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('a path prefix', () => {
  it('reaches the simulator behind a reverse proxy on every route', async () => {
    sim = await startOllamaSim({ models: ['llama3.2'] });
    const upstream = new URL(sim.url);
    const proxy = await listen((incoming, response) => {
      const url = incoming.url ?? '';
      if (!url.startsWith('/ollama/')) {
        response.writeHead(404).end();
        return;
      }
      forward(incoming, response, new URL(url.slice('/ollama'.length), upstream));
    });
    client = new Ollama({ host: `${proxy.url}/ollama/`, modelState: false });
    const model = 'llama3.2';
    await client.chat({ model, messages: [{ role: 'user', content: 'hi' }] });
    const stream = await client.generate({ model, prompt: 'hi', stream: true });
    for await (const _ of stream);
    await client.embed({ model, input: 'hi' });
    await client.embeddings({ model, prompt: 'hi' });
    await client.list();
    await client.show({ model });
    await client.ps();
    await client.version();
    await client.copy({ source: model, destination: 'copy' });
    await client.delete({ model: 'copy' });
    await client.pull({ model: 'llama3.2' });
    expect(proxy.seen).toEqual([
      'POST /ollama/api/chat',
      'POST /ollama/api/generate',
      'POST /ollama/api/embed',
      'POST /ollama/api/embeddings',
      'GET /ollama/api/tags',
      'POST /ollama/api/show',
      'GET /ollama/api/ps',
      'GET /ollama/api/version',
      'POST /ollama/api/copy',
      'DELETE /ollama/api/delete',
      'POST /ollama/api/pull',
    ]);
    expect(sim.requests.map((request) => request.route)).toEqual(
      proxy.seen.map((line) => line.split(' ')[1]?.slice('/ollama'.length)),
    );
  });
});

describe('proxies', () => {
  /** A forward proxy: it receives absolute-form requests and sends them on. */
  const forwardProxy = () =>
    listen((incoming, response) => forward(incoming, response, new URL(incoming.url ?? '')));

  it('sends every request through HTTP_PROXY, as the Python client does', async () => {
    sim = await startOllamaSim();
    const proxy = await forwardProxy();
    vi.stubEnv('HTTP_PROXY', proxy.url);
    client = new Ollama({ host: sim.url });
    await client.version();
    await client.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    // The load-only request that warms the model goes through the proxy too.
    expect(proxy.seen).toEqual([
      `GET ${sim.url}/api/version`,
      `POST ${sim.url}/api/generate`,
      `POST ${sim.url}/api/chat`,
    ]);
    expect(sim.requests).toHaveLength(3);
  });

  it('goes direct to a host NO_PROXY names', async () => {
    sim = await startOllamaSim();
    const proxy = await forwardProxy();
    vi.stubEnv('HTTP_PROXY', proxy.url);
    vi.stubEnv('no_proxy', undefined);
    vi.stubEnv('NO_PROXY', 'example.com,127.0.0.1');
    client = new Ollama({ host: sim.url });
    await client.version();
    expect(proxy.seen).toEqual([]);
    expect(sim.requests).toHaveLength(1);
  });

  it('takes an explicit proxy, and proxy: false over the environment', async () => {
    sim = await startOllamaSim();
    const proxy = await forwardProxy();
    client = new Ollama({ host: sim.url, proxy: proxy.url });
    await client.version();
    expect(proxy.seen).toEqual([`GET ${sim.url}/api/version`]);
    await client.close();
    vi.stubEnv('HTTP_PROXY', proxy.url);
    client = new Ollama({ host: sim.url, proxy: false });
    await client.version();
    expect(proxy.seen).toHaveLength(1);
    expect(sim.requests).toHaveLength(2);
    expect(() => new Ollama({ proxy: 'socks://x' })).toThrowError(
      /option "proxy" must be an http: or https: URL/,
    );
  });
});

describe('User-Agent', () => {
  it('names Bulwark, its version and Node, unless the caller sets one', async () => {
    sim = await startOllamaSim();
    client = new Ollama({ host: sim.url });
    await client.version();
    expect(sim.requests[0]?.headers['user-agent']).toBe(USER_AGENT);
    expect(USER_AGENT).toMatch(
      new RegExp(`^bulwark/${VERSION.replace(/\./g, '\\.')} \\(.+\\) Node\\.js/v\\d+`),
    );
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(manifest.version);
    const own = new Ollama({ host: sim.url, headers: { 'User-Agent': 'my-app/1.0' } });
    await own.version();
    await own.close();
    expect(sim.requests[1]?.headers['user-agent']).toBe('my-app/1.0');
  });
});

describe('transport errors', () => {
  it('name the host and the model, never credentials', async () => {
    const closed = await listen(() => {});
    const port = new URL(closed.url).port;
    await new Promise((resolve) => servers.pop()?.close(resolve));
    client = new Ollama({ host: `127.0.0.1:${port}`, headers: { authorization: 'Bearer sk-SECRET' } });
    const refused = (await client
      .chat({ model: 'llama3.2', messages: [] })
      .catch((error: unknown) => error)) as ConnectionError;
    expect(ConnectionError.is(refused)).toBe(true);
    expect(refused.message).toBe(
      `Could not connect (ECONNREFUSED): http://127.0.0.1:${port}, model "llama3.2"`,
    );
    await client.close();
    sim = await startOllamaSim({
      faults: [
        { route: '/api/chat', kind: 'hang' },
        { route: '/api/show', status: 500 },
      ],
    });
    client = new Ollama({ host: sim.url, firstTokenMs: 100 });
    const hung = (await client
      .chat({ model: 'llama3.2', messages: [] })
      .catch((error: unknown) => error)) as TimeoutError;
    expect(hung.message).toBe(
      `Timed out waiting for the first token after 100 ms (attempt 1): ${sim.url}, model "llama3.2"`,
    );
    const failed = (await client
      .show({ model: 'llama3.2' })
      .catch((error: unknown) => error)) as ResponseError;
    expect(failed.message).toMatch(new RegExp(`^Server answered 500 at ${sim.url} for model "llama3.2"`));
    for (const error of [refused, hung, failed]) expect(String(error.message)).not.toContain('SECRET');
  });
});
