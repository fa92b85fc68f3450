import { once } from 'node:events';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startOllamaSim } from './server.js';
import type { OllamaSim, OllamaSimOptions } from './types.js';
import { SimOptionError } from './validate-options.js';

let sim: OllamaSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('startOllamaSim options', () => {
  it.each([
    [{ bogus: 1 }, 'startOllamaSim(): unknown option "bogus" (known options: host, port,', 'bogus'],
    [{ port: -1 }, 'startOllamaSim(): option "port" must be a whole number from 0 to 65535, got -1', 'port'],
    [{ numParallel: 0 }, 'option "numParallel" must be a whole number >= 1, got 0', 'numParallel'],
    [{ maxQueue: 1.5 }, 'option "maxQueue" must be a whole number >= 0, got 1.5', 'maxQueue'],
    [{ loadMs: '5' }, 'option "loadMs" must be a finite number of milliseconds >= 0, got "5"', 'loadMs'],
    [
      { replyTokens: [9, 3] },
      'option "replyTokens" must be a whole number >= 0 or a [min, max] pair of them, got an array',
      'replyTokens',
    ],
    [{ boundSlotWait: 'yes' }, 'option "boundSlotWait" must be true or false, got "yes"', 'boundSlotWait'],
    [{ models: [] }, 'option "models" must list at least one model', 'models'],
    [{ models: ['bad name'] }, 'option "models[0]" must be a valid model name, got "bad name"', 'models[0]'],
    [
      { models: [{ name: 'x', numParalel: 2 }] },
      'unknown option "models[0].numParalel"',
      'models[0].numParalel',
    ],
    [
      { models: [{ name: 'x', capabilities: ['flying'] }] },
      'option "models[0].capabilities" must be an array of',
      'models[0].capabilities',
    ],
    [{ models: [{ loadMs: 1 }] }, 'option "models[0].name" is required', 'models[0].name'],
    [
      { faults: [{ kind: 'explode' }] },
      'option "faults[0].kind" must be one of "status", "hang"',
      'faults[0].kind',
    ],
    [
      { faults: [{ status: 99 }] },
      'option "faults[0].status" must be a whole number from 100 to 599, got 99',
      'faults[0].status',
    ],
    [
      { faults: [{ route: 5 }] },
      'option "faults[0].route" must be a non-empty string or a RegExp, got 5',
      'faults[0].route',
    ],
    [
      { faults: [{ headers: { 'bad header': 'x' } }] },
      'option "faults[0].headers" must be an object of header strings',
      'faults[0].headers',
    ],
  ])('rejects %j at once, naming the option', async (options, message, option) => {
    const error = await startOllamaSim(options as OllamaSimOptions).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SimOptionError);
    expect((error as Error).message).toContain(message);
    expect((error as SimOptionError).option).toBe(option);
  });

  it('listens on ::1 when asked', async () => {
    sim = await startOllamaSim({ host: '::1' });
    expect(sim.url).toBe(`http://[::1]:${sim.port}`);
    const response = await fetch(`${sim.url}/api/version`);
    expect(response.status).toBe(200);
  });

  it('fails to start on a port in use', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    await expect(startOllamaSim({ port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    blocker.close();
  });

  it('serves the models it is given, with their own settings', async () => {
    sim = await startOllamaSim({
      models: ['llama3.2', { name: 'embedder:v1', capabilities: ['embedding'], embeddingLength: 8 }],
    });
    expect(sim.modelNames()).toEqual(['llama3.2:latest', 'embedder:v1']);
    const embed = await fetch(`${sim.url}/api/embed`, {
      method: 'POST',
      body: JSON.stringify({ model: 'embedder:v1', input: 'x' }),
    });
    expect(((await embed.json()) as { embeddings: number[][] }).embeddings[0]).toHaveLength(8);
    expect(
      sim.simulatedReply({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }] }).chunks.length,
    ).toBeGreaterThan(0);
  });
});

describe('request log', () => {
  it('records each request with route, model, body, headers, status, outcome and times', async () => {
    sim = await startOllamaSim();
    await (
      await fetch(`${sim.url}/api/chat?x=1`, {
        method: 'POST',
        headers: { 'x-trace': 'abc' },
        body: JSON.stringify({
          model: 'llama3.2',
          messages: [{ role: 'user', content: 'hi' }],
          stream: false,
        }),
      })
    ).text();
    await (await fetch(`${sim.url}/api/tags`)).text();
    await (await fetch(`${sim.url}/api/chat`, { method: 'POST', body: 'not json' })).text();
    const [chat, tags, bad] = sim.requests;
    expect(chat).toMatchObject({
      id: 1,
      method: 'POST',
      route: '/api/chat',
      url: '/api/chat?x=1',
      model: 'llama3.2',
      status: 200,
      outcome: 'completed',
      chunks: 0,
    });
    expect(chat?.headers['x-trace']).toBe('abc');
    expect((chat!.body as { stream: boolean }).stream).toBe(false);
    expect(chat?.endedAt).toBeGreaterThanOrEqual(chat?.startedAt as number);
    expect(tags).toMatchObject({ method: 'GET', route: '/api/tags', model: undefined, status: 200 });
    expect(bad).toMatchObject({
      body: 'not json',
      status: 400,
      outcome: 'error',
      error: "invalid character 'o' in literal null (expecting 'u')",
    });
    sim.clearRequests();
    expect(sim.requests).toHaveLength(0);
    await (await fetch(`${sim.url}/api/version`)).text();
    expect(sim.requests[0]?.id).toBe(4);
  });

  it('keeps at most requestLogLimit entries', async () => {
    sim = await startOllamaSim({ requestLogLimit: 2 });
    for (let index = 0; index < 4; index++) await (await fetch(`${sim.url}/api/version`)).text();
    expect(sim.requests.map((record) => record.id)).toEqual([3, 4]);
  });

  it('waits for a number of requests, with a timeout', async () => {
    sim = await startOllamaSim();
    const waiting = sim.waitForRequests(2);
    await fetch(`${sim.url}/api/version`);
    await fetch(`${sim.url}/api/version`);
    await expect(waiting).resolves.toBeUndefined();
    await expect(sim.waitForRequests(5, { timeoutMs: 50 })).rejects.toThrow(
      'waitForRequests: 2 of 5 requests arrived within 50 ms',
    );
  });
});

describe('close()', () => {
  it('frees the port and ends streaming responses at once', async () => {
    sim = await startOllamaSim({ models: [{ name: 'slow', tokenDelayMs: 50, replyTokens: 1000 }] });
    const { port } = sim;
    const response = await fetch(`${sim.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'x' }] }),
    });
    const reading = response.text().then(
      () => 'ended',
      () => 'failed',
    );
    const started = performance.now();
    await sim.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await reading).toBe('failed');
    expect(sim.requests[0]?.outcome).toBe('sim-closed');
    // The port is free again.
    const again = await startOllamaSim({ port });
    await again.close();
    sim = undefined;
  });

  it('is idempotent and disposable', async () => {
    const disposable = await startOllamaSim();
    await disposable[Symbol.asyncDispose]();
    await disposable.close();
    await expect(fetch(`${disposable.url}/api/version`)).rejects.toThrow();
  });
});

describe('connection handling', () => {
  /** Sends raw HTTP/1.1 requests one after the other on one socket; returns each response head and body. */
  async function exchange(url: string, requests: string[]): Promise<string[]> {
    const { connect } = await import('node:net');
    const { port, hostname } = new URL(url);
    const socket = connect(Number(port), hostname);
    await once(socket, 'connect');
    const answers: string[] = [];
    let buffer = '';
    for (const request of requests) {
      socket.write(request);
      // Each answer here carries a Content-Length, or ends with the chunked terminator.
      for (;;) {
        const split = buffer.indexOf('\r\n\r\n');
        if (split >= 0) {
          const head = buffer.slice(0, split);
          const length = /\r\ncontent-length: (\d+)/i.exec(head);
          const end = length ? split + 4 + Number(length[1]) : buffer.indexOf('\r\n0\r\n\r\n', split) + 7;
          if ((length && buffer.length >= end) || (!length && end >= 7)) {
            answers.push(buffer.slice(0, end));
            buffer = buffer.slice(end);
            break;
          }
        }
        const [data] = (await once(socket, 'data')) as [Buffer];
        buffer += data.toString('latin1');
      }
    }
    socket.destroy();
    return answers;
  }

  it('sends no Connection header, as Go does, and keeps the connection open for the next request', async () => {
    sim = await startOllamaSim();
    const host = new URL(sim.url).host;
    const body = JSON.stringify({ model: 'llama3.2', prompt: 'hi' });
    const answers = await exchange(sim.url, [
      `GET /api/version HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
      `POST /api/generate HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      `GET /api/tags HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    ]);
    expect(answers).toHaveLength(3);
    for (const answer of answers) {
      expect(answer.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
      expect(answer.slice(0, answer.indexOf('\r\n\r\n'))).not.toMatch(/\r\n(connection|keep-alive):/i);
    }
    expect(answers[0]).toContain('{"version":"0.33.0"}');
    expect(answers[1]).toContain('"done":true');
    // Both requests after the first travelled on the same socket.
    expect(sim.requests.map((request) => request.route)).toEqual([
      '/api/version',
      '/api/generate',
      '/api/tags',
    ]);
  });

  it('still answers Connection: close with Connection: close and closes', async () => {
    sim = await startOllamaSim();
    const host = new URL(sim.url).host;
    const [answer] = await exchange(sim.url, [
      `GET /api/version HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answer).toMatch(/\r\nConnection: close\r\n/);
  });
});
