import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultTable, parseFaultSpec } from './faults.js';
import { type Dialect, OLLAMA_DIALECT, sizedFillerLine } from './response-output.js';
import { startOllamaSim } from './server.js';
import type { Fault, FaultRequest, OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  await sim?.close();
});

const messages = [{ role: 'user', content: 'hi' }];

/** What a raw socket saw: every byte, when, and how the connection ended. */
interface RawExchange {
  status: number;
  headers: Record<string, string>;
  /** The body as sent: chunk framing removed when chunked. */
  body: Buffer;
  /** The terminating zero-length chunk arrived (a clean end of a chunked body). */
  cleanEnd: boolean;
  /** 'end' (FIN), 'reset' (ECONNRESET) or 'open' (still open when we stopped reading). */
  ending: 'end' | 'reset' | 'open';
  reads: { at: number; bytes: number }[];
  headersAt: number | undefined;
}

/** Sends one request on a fresh socket and records the raw answer; stops after `readMs` if still open. */
function raw(
  path: string,
  body: unknown,
  options: { method?: string; readMs?: number } = {},
): Promise<RawExchange> {
  const url = new URL(sim.url);
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    const started = performance.now();
    const chunks: Buffer[] = [];
    const reads: { at: number; bytes: number }[] = [];
    let ending: RawExchange['ending'] = 'open';
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(Buffer.concat(chunks), ending, reads));
    };
    const timer = setTimeout(finish, options.readMs ?? 3000);
    socket.on('data', (data: Buffer) => {
      chunks.push(data);
      reads.push({ at: performance.now() - started, bytes: data.length });
    });
    socket.on('end', () => {
      ending = 'end';
      finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      ending = error.code === 'ECONNRESET' ? 'reset' : 'end';
      finish();
    });
    socket.write(
      `${options.method ?? 'POST'} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
    );
  });
}

function parse(data: Buffer, ending: RawExchange['ending'], reads: RawExchange['reads']): RawExchange {
  const split = data.indexOf('\r\n\r\n');
  if (split < 0)
    return { status: 0, headers: {}, body: data, cleanEnd: false, ending, reads, headersAt: undefined };
  const head = data.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(head[0]?.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let rest = data.subarray(split + 4);
  let cleanEnd = false;
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd < 0) break;
      const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        cleanEnd = true;
        break;
      }
      parts.push(rest.subarray(lineEnd + 2, Math.min(rest.length, lineEnd + 2 + size)));
      if (rest.length < lineEnd + 2 + size + 2) break;
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  } else {
    cleanEnd = headers['content-length'] !== undefined && rest.length === Number(headers['content-length']);
  }
  return { status, headers, body: rest, cleanEnd, ending, reads, headersAt: reads[0]?.at };
}

function ndjson(body: Buffer): string[] {
  return body.toString('utf8').split('\n');
}

describe('fault selection', () => {
  const request = (index: number, route = '/api/chat', model = 'llama3.2'): FaultRequest => ({
    index,
    method: 'POST',
    route,
    model,
    body: {},
    headers: {},
  });

  it('picks by route, method, model (either name form), nth, times and a predicate', () => {
    const table = new FaultTable();
    const second: Fault = { route: '/api/chat', nth: 2, status: 503 };
    const fromThird: Fault = { route: '/api/chat', nth: 3, times: 2, status: 500 };
    const byModel: Fault = { model: 'qwen3:latest', method: 'post', kind: 'hang' };
    const byPredicate: Fault = { when: (r) => r.route === '/api/embed', kind: 'reset' };
    table.set([second, fromThird, byModel, byPredicate]);
    const picks = [1, 2, 3, 4, 5].map((index) => table.select(request(index)));
    expect(picks).toEqual([undefined, second, fromThird, fromThird, undefined]);
    expect(table.select(request(6, '/api/generate', 'qwen3'))).toBe(byModel);
    expect(table.select(request(7, '/api/embed'))).toBe(byPredicate);
  });

  it('applies to every matching request when neither nth nor times is set', () => {
    const table = new FaultTable();
    const always: Fault = { route: /^\/api\//, delayMs: 1 };
    table.set([always]);
    expect([1, 2, 3].map((index) => table.select(request(index)))).toEqual([always, always, always]);
    expect(table.select(request(4, '/v1/models'))).toBeUndefined();
  });

  it('parses command-line specs, short and JSON', () => {
    expect(parseFaultSpec('route=/api/chat,nth=2,status=503,retryAfter=1')).toEqual([
      { route: '/api/chat', nth: 2, status: 503, retryAfter: 1 },
    ]);
    const [regex] = parseFaultSpec(
      'model=re:^llama,kind=stall,afterChunks=3,stallMs=200,gzip=true,headers.X-Test=yes',
    );
    expect(regex?.model).toBeInstanceOf(RegExp);
    expect(regex).toMatchObject({
      kind: 'stall',
      afterChunks: 3,
      stallMs: 200,
      gzip: true,
      headers: { 'X-Test': 'yes' },
    });
    expect(parseFaultSpec('[{"route":"/api/chat","kind":"reset"},{"status":429}]')).toHaveLength(2);
    expect(() => parseFaultSpec('route=/api/chat,nth=x')).toThrow(
      '--fault: option "nth" must be a number, got "x"',
    );
    expect(() => parseFaultSpec('kind=explode')).toThrow(/option "fault.kind" must be one of/);
    expect(() => parseFaultSpec('bogus=1')).toThrow(/unknown option "fault.bogus"/);
    expect(() => parseFaultSpec('kind=status')).toThrow(
      'option "fault.status" is required for kind "status"',
    );
  });

  it('applies the nth fault over HTTP and records it in the request log', async () => {
    const fault: Fault = { name: 'second is busy', route: '/api/chat', nth: 2, status: 503, retryAfter: 2 };
    sim = await startOllamaSim({ faults: [fault] });
    const statuses: number[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await fetch(`${sim.url}/api/chat`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.2', messages, stream: false }),
      });
      statuses.push(response.status);
      if (response.status === 503) {
        expect(response.headers.get('retry-after')).toBe('2');
        expect(await response.text()).toBe(
          '{"error":"server busy, please try again.  maximum pending requests exceeded"}',
        );
      } else {
        await response.text();
      }
    }
    expect(statuses).toEqual([200, 503, 200]);
    expect(sim.requests.map((record) => record.fault?.name)).toEqual([
      undefined,
      'second is busy',
      undefined,
    ]);
    expect(sim.requests[1]).toMatchObject({ status: 503, outcome: 'error' });
  });

  it('replaces, adds and clears faults at run time, validating them', async () => {
    sim = await startOllamaSim();
    sim.setFaults([{ route: '/api/tags', status: 500 }]);
    expect((await fetch(`${sim.url}/api/tags`)).status).toBe(500);
    sim.addFault({ route: '/api/version', kind: 'html' });
    expect((await fetch(`${sim.url}/api/version`)).status).toBe(502);
    sim.clearFaults();
    expect((await fetch(`${sim.url}/api/tags`)).status).toBe(200);
    expect(() => sim.setFaults([{ route: '/api/tags', afterChunks: -1 }])).toThrow(
      'setFaults(): option "faults[0].afterChunks" must be a whole number >= 0, got -1',
    );
    expect(() => sim.addFault({ kind: 'status' } as Fault)).toThrow(/"fault.status" is required/);
  });
});

describe('latency faults', () => {
  it('delays the headers (delayMs)', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', delayMs: 200 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.status).toBe(200);
    expect(answer.headersAt).toBeGreaterThanOrEqual(190);
  });

  it('spaces tokens (tokenDelayMs)', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', tokenDelayMs: 25 }] });
    const started = performance.now();
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 8 } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(8 * 25 - 10);
    expect(answer.reads.length).toBeGreaterThanOrEqual(8);
    expect(ndjson(answer.body).filter(Boolean)).toHaveLength(9);
  });

  it('drips the body a few bytes at a time', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/tags', dripBytes: 16, dripIntervalMs: 1 }] });
    const answer = await raw('/api/tags', undefined, { method: 'GET' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString()).models).toHaveLength(4);
    expect(answer.reads.length).toBeGreaterThan(answer.body.length / 16 / 2);
  });

  it('drips a stream, keeping every line intact', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', dripBytes: 7, dripIntervalMs: 0 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 5 } });
    const lines = ndjson(answer.body).filter(Boolean);
    expect(lines).toHaveLength(6);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(answer.cleanEnd).toBe(true);
  });

  it('gzip-encodes the body, flushed per line', async () => {
    sim = await startOllamaSim({ faults: [{ route: /^\/api\/(chat|tags)$/, gzip: true }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 4 } });
    expect(answer.headers['content-encoding']).toBe('gzip');
    expect(answer.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const lines = gunzipSync(answer.body).toString().split('\n').filter(Boolean);
    expect(lines).toHaveLength(5);
    const tags = await fetch(`${sim.url}/api/tags`);
    expect(tags.headers.get('content-encoding')).toBe('gzip');
    expect(((await tags.json()) as { models: unknown[] }).models).toHaveLength(4);
  });
});

describe('sizedFillerLine', () => {
  // Each call stamps a time one digit longer or shorter than the last, as a trimmed nanosecond
  // timestamp does from one reading to the next.
  function wobbling(): Dialect {
    let call = 0;
    return {
      ...OLLAMA_DIALECT,
      fillerLine: (filler) =>
        `{"created_at":"${'9'.repeat(call++ % 2 === 0 ? 9 : 3)}","content":"${filler}"}\n`,
    };
  }

  it('builds a line of exactly the asked size while the timestamp length changes between calls', () => {
    for (const size of [60, 61, 1_000, 65_537]) {
      const line = sizedFillerLine(wobbling(), size);
      expect(Buffer.byteLength(line)).toBe(size);
      expect(JSON.parse(line).content).toMatch(/^x+$/);
    }
  });

  it('keeps at least one x when asked for less than the shortest line', () => {
    const line = sizedFillerLine(wobbling(), 1);
    expect(JSON.parse(line).content).toBe('x');
  });
});

describe('breaking faults', () => {
  it('hangs before any byte until the client leaves', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'hang' }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages }, { readMs: 300 });
    expect(answer.ending).toBe('open');
    expect(answer.reads).toHaveLength(0);
    await delay(50);
    expect(sim.requests[0]?.outcome).toBe('client-closed');
  });

  it('hangs until close(), which ends it at once', async () => {
    sim = await startOllamaSim({ faults: [{ kind: 'hang' }] });
    const pending = fetch(`${sim.url}/api/tags`).then(
      () => 'answered',
      () => 'failed',
    );
    await sim.waitForRequests(1);
    const started = performance.now();
    await sim.close();
    expect(await pending).toBe('failed');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(sim.requests[0]?.outcome).toBe('sim-closed');
  });

  it('resets the connection before any byte', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'reset' }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.ending).toBe('reset');
    expect(answer.reads).toHaveLength(0);
    expect(sim.requests[0]?.outcome).toBe('destroyed');
    await expect(fetch(`${sim.url}/api/chat`, { method: 'POST', body: '{}' })).rejects.toThrow(
      'fetch failed',
    );
  });

  it('resets the connection after N chunks', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'reset', afterChunks: 3 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.status).toBe(200);
    expect(answer.ending).toBe('reset');
    expect(answer.cleanEnd).toBe(false);
    expect(ndjson(answer.body).filter(Boolean)).toHaveLength(3);
  });

  it('stalls after N chunks for stallMs, then goes on', async () => {
    sim = await startOllamaSim({
      faults: [{ route: '/api/chat', kind: 'stall', afterChunks: 2, stallMs: 250 }],
    });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 5 } });
    expect(ndjson(answer.body).filter(Boolean)).toHaveLength(6);
    expect(answer.cleanEnd).toBe(true);
    const gaps = answer.reads.slice(1).map((read, index) => read.at - (answer.reads[index]?.at ?? 0));
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(240);
  });

  it('stalls forever when stallMs is omitted, until the client leaves', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'stall', afterChunks: 2 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages }, { readMs: 400 });
    expect(answer.ending).toBe('open');
    expect(ndjson(answer.body).filter(Boolean)).toHaveLength(2);
    await delay(50);
    expect(sim.requests[0]?.outcome).toBe('client-closed');
    expect(sim.stats('llama3.2').generating).toBe(0);
  });

  it('closes the socket in the middle of a line', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'close-mid-line', afterChunks: 2 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.ending).toBe('end');
    expect(answer.cleanEnd).toBe(false);
    const parts = ndjson(answer.body);
    expect(parts).toHaveLength(3);
    expect(() => JSON.parse(parts[1] as string)).not.toThrow();
    expect(parts[2]?.length).toBeGreaterThan(0);
    expect(() => JSON.parse(parts[2] as string)).toThrow();
    const viaFetch = await fetch(`${sim.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages }),
    });
    await expect(viaFetch.text()).rejects.toThrow();
  });

  it('writes a malformed line after N chunks and goes on', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'malformed-line', afterChunks: 1 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 3 } });
    const lines = ndjson(answer.body).filter(Boolean);
    expect(lines).toHaveLength(5);
    expect(() => JSON.parse(lines[1] as string)).toThrow();
    expect(JSON.parse(lines[4] as string).done).toBe(true);
    expect(answer.cleanEnd).toBe(true);
  });

  it('writes an {"error"} line after N chunks and ends cleanly', async () => {
    sim = await startOllamaSim({
      faults: [{ route: '/api/chat', kind: 'error-line', afterChunks: 2, message: 'boom' }],
    });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.status).toBe(200);
    expect(answer.cleanEnd).toBe(true);
    expect(ndjson(answer.body)).toEqual([expect.any(String), expect.any(String), '{"error":"boom"}', '']);
    expect(sim.requests[0]).toMatchObject({ outcome: 'error', error: 'boom' });
  });

  it('turns an error before any output into a status with a JSON body', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'error-line' }] });
    const streamed = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(streamed.status).toBe(500);
    // As streamResponse sends it: application/json, chunked.
    expect(streamed.headers['content-type']).toBe('application/json');
    expect(streamed.headers['content-length']).toBeUndefined();
    expect(streamed.headers['transfer-encoding']).toBe('chunked');
    expect(JSON.parse(streamed.body.toString()).error).toMatch(
      /^an error was encountered while running the model/,
    );
    sim.setFaults([{ route: '/api/chat', kind: 'error-line', afterChunks: 3, status: 502 }]);
    const quiet = await raw('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(quiet.status).toBe(502);
  });

  it('sends an oversized line of lineBytes bytes, then goes on', async () => {
    sim = await startOllamaSim({
      faults: [{ route: '/api/chat', kind: 'oversized-line', afterChunks: 1, lineBytes: 1_000_000 }],
    });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 2 } });
    const lines = ndjson(answer.body).filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(Buffer.byteLength(lines[1] as string) + 1).toBe(1_000_000);
    expect(JSON.parse(lines[1] as string).message.content).toMatch(/^x+$/);
  });

  it('sends 10 MiB lines by default', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'oversized-line' }] });
    const response = await fetch(`${sim.url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages }),
    });
    const first = (await response.text()).split('\n')[0] as string;
    expect(Buffer.byteLength(`${first}\n`)).toBe(10 * 1024 * 1024);
  });

  it('starts a line that never ends', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'endless-line', afterChunks: 1 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages }, { readMs: 300 });
    expect(answer.ending).toBe('open');
    const parts = ndjson(answer.body);
    expect(parts).toHaveLength(2);
    expect(parts[1]?.length).toBeGreaterThan(100_000);
    await delay(50);
    expect(sim.requests[0]?.outcome).toBe('client-closed');
  });

  it('answers a status with a chosen body and headers', async () => {
    sim = await startOllamaSim({
      faults: [
        {
          route: '/api/chat',
          status: 429,
          message: 'slow down',
          headers: { 'X-Limit': '1' },
          retryAfter: 'Wed, 21 Oct 2015 07:28:00 GMT',
        },
        { route: '/api/generate', status: 500, body: 'plain failure' },
        { route: '/v1/chat/completions', status: 503 },
      ],
    });
    const limited = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(limited.status).toBe(429);
    expect(limited.headers['x-limit']).toBe('1');
    expect(limited.headers['retry-after']).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(limited.body.toString()).toBe('{"error":"slow down"}');
    const plain = await raw('/api/generate', { model: 'llama3.2', prompt: 'x' });
    expect(plain.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(plain.body.toString()).toBe('plain failure');
    const openai = await raw('/v1/chat/completions', { model: 'llama3.2', messages });
    expect(JSON.parse(openai.body.toString()).error).toMatchObject({
      type: 'api_error',
      message: expect.stringContaining('server busy'),
    });
  });

  it('answers an HTML error page as a proxy would', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'html', status: 504 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.status).toBe(504);
    expect(answer.headers['content-type']).toBe('text/html');
    expect(answer.body.toString()).toContain('<title>504 Gateway Timeout</title>');
  });

  it('answers 200 with an empty body', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'empty' }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/x-ndjson');
    expect(answer.body.length).toBe(0);
    const quiet = await raw('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(quiet.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(quiet.body.length).toBe(0);
  });

  it('truncates the final line and ends cleanly', async () => {
    sim = await startOllamaSim({ faults: [{ route: /^\/api\/(chat|tags)$/, kind: 'truncate' }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages, options: { num_predict: 3 } });
    expect(answer.cleanEnd).toBe(true);
    const parts = ndjson(answer.body);
    expect(parts).toHaveLength(4);
    expect(parts[3]?.length).toBeGreaterThan(0);
    expect(() => JSON.parse(parts[3] as string)).toThrow();
    const tags = await fetch(`${sim.url}/api/tags`);
    const text = await tags.text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it('ends the stream cleanly without the done line', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', kind: 'no-done', afterChunks: 4 }] });
    const answer = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(answer.cleanEnd).toBe(true);
    const lines = ndjson(answer.body).filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(lines.every((line) => JSON.parse(line).done === false)).toBe(true);
  });

  it('applies chunk faults to non-streamed answers: a stall delays, a reset kills before headers', async () => {
    sim = await startOllamaSim({
      faults: [
        { route: '/api/chat', nth: 1, kind: 'stall', afterChunks: 3, stallMs: 200 },
        { route: '/api/chat', nth: 2, kind: 'reset', afterChunks: 3 },
        { route: '/api/chat', nth: 3, kind: 'close-mid-line' },
      ],
    });
    const stalled = await raw('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(stalled.status).toBe(200);
    expect(stalled.headersAt).toBeGreaterThanOrEqual(190);
    const reset = await raw('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(reset.ending).toBe('reset');
    expect(reset.reads).toHaveLength(0);
    const half = await raw('/api/chat', { model: 'llama3.2', messages, stream: false });
    expect(half.status).toBe(200);
    expect(half.cleanEnd).toBe(false);
    expect(half.body.length).toBeLessThan(Number(half.headers['content-length']));
  });

  it('fails an SSE stream after output as the server does: an empty chunk, no [DONE], no error event', async () => {
    sim = await startOllamaSim({
      faults: [
        { route: '/v1/chat/completions', kind: 'error-line', afterChunks: 2 },
        { route: '/v1/completions', kind: 'error-line', afterChunks: 2 },
      ],
    });
    const answer = await raw('/v1/chat/completions', { model: 'llama3.2', messages, stream: true });
    const events = answer.body.toString().split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3);
    const last = JSON.parse((events[2] as string).slice('data: '.length));
    expect(last.error).toBeUndefined();
    expect(last.object).toBe('chat.completion.chunk');
    expect(last.model).toBe('');
    expect(last.choices).toEqual([{ index: 0, delta: { content: '' }, finish_reason: null }]);
    expect(last.id).toBe(JSON.parse((events[0] as string).slice('data: '.length)).id);
    expect(answer.body.toString()).not.toContain('[DONE]');
    expect(answer.cleanEnd).toBe(true);
    expect(sim.requests[0]?.error).toMatch(/error was encountered/);
    const completion = await raw('/v1/completions', { model: 'llama3.2', prompt: 'hi', stream: true });
    const lines = completion.body.toString().split('\n\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    const end = JSON.parse((lines[2] as string).slice('data: '.length));
    expect(end.choices).toEqual([{ text: '', index: 0, finish_reason: null }]);
    expect(end.model).toBe('');
    expect(completion.body.toString()).not.toContain('[DONE]');
  });

  it('sends an explicit OpenAI error event with the error-event fault', async () => {
    sim = await startOllamaSim({
      faults: [{ route: '/v1/chat/completions', kind: 'error-event', afterChunks: 2, message: 'boom' }],
    });
    const answer = await raw('/v1/chat/completions', { model: 'llama3.2', messages, stream: true });
    const events = answer.body.toString().split('\n\n').filter(Boolean);
    expect(events).toHaveLength(3);
    expect(JSON.parse((events[2] as string).slice('data: '.length))).toEqual({
      error: { message: 'boom', type: 'api_error', param: null, code: null },
    });
    expect(answer.cleanEnd).toBe(true);
    sim.setFaults([{ route: '/api/chat', kind: 'error-event', afterChunks: 1, message: 'boom' }]);
    const native = await raw('/api/chat', { model: 'llama3.2', messages });
    expect(native.body.toString().trim().split('\n').at(-1)).toBe('{"error":"boom"}');
  });
});
