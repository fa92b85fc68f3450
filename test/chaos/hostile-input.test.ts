/**
 * Hostile input: arbitrary bytes and chunkings through the NDJSON line reader, bad options to every
 * factory, bad hosts, URLs and headers (and secrets kept out of errors), and answers that a real
 * Ollama never sends but a proxy in front of it might.
 */
import { circuitBreaker, samplingBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import {
  BulwarkError,
  ErrorCode,
  InvalidOptionError,
  noop,
  ProtocolError,
  ResponseError,
} from '@bulwark/core';
import { createFetch } from '@bulwark/fetch';
import { Ollama } from '@bulwark/ollama';
import { LineReader } from '@bulwark/ollama/internal';
import { type Fault, type OllamaSim, simulatedReply, startOllamaSim } from '@bulwark/ollama-sim';
import { createInstrumentation, instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorText, SECRET } from './support.js';

const NEWLINE = 0x0a;

/** Feeds `bytes` to a reader cut at `cuts`, each piece a view into a larger buffer (offset ≠ 0). */
function pieces(bytes: Uint8Array, cuts: readonly number[], asBuffer: boolean): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => (bytes.length === 0 ? 0 : cut % (bytes.length + 1))))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point < start) continue;
    const piece = bytes.subarray(start, point);
    const padded = new Uint8Array(piece.length + 7);
    padded.set(piece, 3);
    const view = padded.subarray(3, 3 + piece.length);
    out.push(asBuffer ? Buffer.from(view.buffer, view.byteOffset, view.byteLength) : view);
    start = point;
  }
  return out;
}

type Expected = { records: unknown[]; fails: boolean };

/** What a correct reader yields for `bytes`: the records before the first bad line, and whether one exists. */
function reference(bytes: Uint8Array, maxLineBytes: number): Expected {
  const records: unknown[] = [];
  let start = 0;
  const decoder = new TextDecoder();
  while (start < bytes.length) {
    let end = bytes.indexOf(NEWLINE, start);
    const last = end === -1;
    if (last) end = bytes.length;
    let line = bytes.subarray(start, end);
    start = end + 1;
    if (line.length > maxLineBytes) return { records, fails: true };
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.every((byte) => byte === 0x20 || byte === 0x09)) continue;
    try {
      records.push(JSON.parse(decoder.decode(line)));
    } catch {
      return { records, fails: true };
    }
  }
  return { records, fails: false };
}

/** Runs a reader over the pieces; checks the buffered tail never exceeds maxLineBytes. */
function read(chunks: readonly Uint8Array[], maxLineBytes: number): { records: unknown[]; error: unknown } {
  const reader = new LineReader(maxLineBytes);
  const records: unknown[] = [];
  const onRecord = (record: unknown) => records.push(record);
  let tail = 0;
  try {
    for (const chunk of chunks) {
      reader.push(chunk, onRecord);
      const newline = chunk.lastIndexOf(NEWLINE);
      tail = newline === -1 ? tail + chunk.length : chunk.length - newline - 1;
      // The reader holds exactly the unterminated tail: a push that returns normally kept it bounded.
      if (tail > maxLineBytes) throw new Error(`the reader buffered ${tail} bytes > ${maxLineBytes}`);
    }
    reader.end(onRecord);
  } catch (error) {
    return { records, error };
  }
  return { records, error: undefined };
}

const jsonValue = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });

describe('LineReader under arbitrary input', () => {
  it('gives the same records however a valid stream is chunked (CRLF, blank lines, multi-byte text)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ value: jsonValue, crlf: fc.boolean(), blankBefore: fc.boolean() }), {
          maxLength: 20,
        }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.boolean(),
        (lines, finalNewline, cuts, asBuffer) => {
          let text = '';
          for (const line of lines) {
            if (line.blankBefore) text += ' \t\n';
            text += `${JSON.stringify(line.value)}${line.crlf ? '\r\n' : '\n'}`;
          }
          if (!finalNewline) text = text.replace(/\r?\n$/, '');
          const bytes = new TextEncoder().encode(text);
          const { records, error } = read(pieces(bytes, cuts, asBuffer), 8_000_000);
          expect(error).toBeUndefined();
          expect(records).toEqual(lines.map((line) => JSON.parse(JSON.stringify(line.value))));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives records or a ProtocolError for arbitrary bytes, never another exception, never an unbounded buffer', () => {
    const fragment = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      jsonValue.map((value) => new TextEncoder().encode(`${JSON.stringify(value)}\n`)),
      fc.constantFrom(
        ...['\n', '\r\n', '\r', ' \t', '{', '"', '\\', '\u00e9', '\u{1f600}', '{"error":"x"}\n'].map((text) =>
          new TextEncoder().encode(text),
        ),
        new Uint8Array([0xff, 0xfe]),
        new Uint8Array([0xe2, 0x82]),
      ),
    );
    fc.assert(
      fc.property(
        fc.array(fragment, { maxLength: 30 }),
        fc.integer({ min: 1, max: 80 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        (fragments, maxLineBytes, cuts, asBuffer) => {
          const bytes = new Uint8Array(Buffer.concat(fragments));
          const expected = reference(bytes, maxLineBytes);
          const { records, error } = read(pieces(bytes, cuts, asBuffer), maxLineBytes);
          if (error !== undefined) {
            expect(BulwarkError.is(error), String(error)).toBe(true);
            expect(error).toBeInstanceOf(ProtocolError);
            expect((error as BulwarkError).code).toBe(ErrorCode.Protocol);
          }
          expect(error !== undefined).toBe(expected.fails);
          expect(records).toEqual(expected.records);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fails a line without end as soon as it passes maxLineBytes, without holding it', () => {
    const reader = new LineReader(1024);
    const block = new Uint8Array(100).fill(0x61);
    let pushed = 0;
    let error: unknown;
    try {
      for (let i = 0; i < 10_000; i++) {
        reader.push(block, () => {});
        pushed += block.length;
      }
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toContain('1024 bytes');
    expect(pushed).toBeLessThanOrEqual(1024);
    // After the failure the reader holds nothing: a fresh valid line reads normally.
    const records: unknown[] = [];
    reader.push(new TextEncoder().encode('{"ok":true}\n'), (record) => records.push(record));
    expect(records).toEqual([{ ok: true }]);
  });
});

/** Calls `build` and returns what it threw (or the rejection of the promise it returned). */
async function thrown(build: () => unknown): Promise<unknown> {
  try {
    const result = build();
    if (result instanceof Promise) {
      const value = await result;
      if (value && typeof (value as OllamaSim).close === 'function') await (value as OllamaSim).close();
      return undefined;
    }
    if (result && typeof (result as Ollama).close === 'function') await (result as Ollama).close();
  } catch (error) {
    return error;
  }
  return undefined;
}

const policy = noop();
/** Bad values for a number option (durations, counts). */
const badNumbers: readonly unknown[] = [-1, Number.NaN, Number.POSITIVE_INFINITY, '100', null, true, 10n, {}];

interface Factory {
  name: string;
  build: (options: unknown) => unknown;
  numbers: readonly string[];
  /** Other options and bad values for them. */
  others: readonly [string, unknown][];
  /** Whole-options values that are not an options object. */
  notOptions?: readonly unknown[];
  /** Time budgets: `Infinity` means no limit for them, and a value past a timer's range is bad instead. */
  budgets?: readonly string[];
}

/** The bad values of one number option: a budget takes `Infinity` (no limit) but not 2^31 ms. */
const badNumbersOf = (factory: Factory, option: string): readonly unknown[] =>
  factory.budgets?.includes(option)
    ? badNumbers.map((value) => (value === Number.POSITIVE_INFINITY ? 2 ** 31 : value))
    : badNumbers;

const factories: readonly Factory[] = [
  {
    name: 'timeout()',
    build: (options) => timeout(options as never),
    numbers: ['attemptMs', 'totalMs', 'connectMs', 'headersMs', 'firstTokenMs', 'idleMs'],
    budgets: ['attemptMs', 'totalMs', 'connectMs', 'headersMs', 'firstTokenMs', 'idleMs'],
    others: [
      ['clock', {}],
      ['clock', 'real'],
      ['attemptMs', 0],
    ],
    notOptions: ['fast', [], null, -5, Number.NaN],
  },
  {
    name: 'retry()',
    build: (options) => retry(options as never),
    numbers: ['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'maxKeys'],
    others: [
      ['maxAttempts', 0],
      ['maxAttempts', 1.5],
      ['retryOn', 'always'],
      ['backoff', 5],
      ['key', 'region'],
      ['budget', 'yes'],
      ['budget', { ratio: 2 }],
      ['budget', { ratio: Number.NaN }],
      ['budget', { windowMs: -1 }],
      ['budget', { minRetries: -1 }],
      ['budget', { bogus: 1 }],
      ['clock', {}],
    ],
  },
  {
    name: 'circuitBreaker()',
    build: (options) => circuitBreaker(options as never),
    numbers: ['halfOpenAfterMs', 'halfOpenProbes', 'slowCallMs', 'maxKeys'],
    others: [
      ['key', 'region'],
      ['key', 5],
      ['breaker', 5],
      ['breaker', 'consecutive'],
      ['countOverload', 'yes'],
      ['failureOn', true],
      ['halfOpenProbes', 0],
      ['clock', 'real'],
    ],
  },
  {
    name: 'samplingBreaker()',
    build: (options) => samplingBreaker(options as never),
    numbers: ['threshold', 'windowMs', 'minimumCalls'],
    others: [
      ['threshold', 0],
      ['threshold', 1.5],
    ],
    notOptions: ['fast', [], null, 42, undefined],
  },
  {
    name: 'bulkhead()',
    build: (options) => bulkhead(options as never),
    numbers: ['limit', 'queue', 'queueMs', 'maxKeys'],
    others: [
      ['limit', 0],
      ['limit', 2.5],
      ['queue', 1.5],
      ['key', 'region'],
      ['key', null],
    ],
  },
  {
    name: 'createFetch()',
    build: (options) => createFetch(options as never),
    numbers: ['connectMs', 'headersMs', 'firstTokenMs', 'idleMs', 'connections', 'maxErrorBodyBytes'],
    budgets: ['connectMs', 'headersMs', 'firstTokenMs', 'idleMs'],
    others: [
      ['policy', {}],
      ['policy', 'retry'],
      ['attributes', { model: 'x' }],
      ['retryNonIdempotent', 'yes'],
      ['dispatcher', 5],
      ['connections', 0],
    ],
  },
  {
    name: 'new Ollama()',
    build: (options) => new Ollama(options as never),
    numbers: ['connections', 'connectMs', 'headersMs', 'firstTokenMs', 'idleMs', 'maxLineBytes'],
    budgets: ['connectMs', 'headersMs', 'firstTokenMs', 'idleMs'],
    others: [
      ['policy', {}],
      ['policy', () => {}],
      ['instrument', 'otel'],
      ['headers', 'authorization: x'],
      ['headers', ['authorization', 'x']],
      ['headers', { authorization: 5 }],
      ['host', 11434],
      ['connections', 0],
      ['maxLineBytes', 0],
    ],
  },
  {
    name: 'instrument()',
    build: (options) => instrument(policy, options as never),
    numbers: [],
    others: [
      ['name', ''],
      ['name', 5],
      ['captureContent', 'yes'],
      ['semconv', 'v2'],
      ['timePerOutputChunk', 1],
      ['logger', {}],
      ['logger', console.log],
    ],
  },
  {
    name: 'createInstrumentation()',
    build: (options) => createInstrumentation(options as never),
    numbers: [],
    others: [
      ['semconv', 'both '],
      ['captureContent', 1],
    ],
  },
  {
    name: 'startOllamaSim()',
    build: (options) => startOllamaSim(options as never),
    numbers: [
      'numParallel',
      'maxQueue',
      'maxLoadedModels',
      'loadMs',
      'promptEvalMs',
      'tokenDelayMs',
      'requestLogLimit',
    ],
    others: [
      ['port', -1],
      ['port', 70_000],
      ['port', 1.5],
      ['keepAliveMs', Number.NaN],
      ['keepAliveMs', '5m'],
      ['replyTokens', -1],
      ['replyTokens', [40, 20]],
      ['numParallel', 0],
      ['host', 5],
      ['models', 'llama3.2'],
      ['models', [5]],
      ['faults', [{ kind: 'explode' }]],
      ['faults', [{ kind: 'stall', afterChunks: -1 }]],
      ['faults', [{ status: 99 }]],
      ['boundSlotWait', 'yes'],
    ],
  },
];

/** Checks `error` is a clear option error naming `option`, thrown at construction. */
function expectOptionError(error: unknown, label: string, option: string): void {
  expect(error, `${label} was accepted`).toBeDefined();
  const named = error as { option?: unknown; message?: unknown; code?: unknown };
  expect(typeof named.message, label).toBe('string');
  // A header error names the header (never its value) rather than the word "headers".
  expect(String(named.message), label).toContain(option === 'headers' ? 'header' : option);
  expect(String(named.option), label).toContain(option);
  if ((error as Error).name !== 'SimOptionError') {
    expect(BulwarkError.is(error), `${label}: ${String(error)}`).toBe(true);
    expect(named.code, label).toBe(ErrorCode.InvalidOption);
  }
}

describe('bad options to every factory', () => {
  for (const factory of factories) {
    it(`${factory.name} rejects bad values, unknown keys and non-objects at construction, naming the option`, async () => {
      const cases: [string, unknown][] = [
        ...factory.numbers.flatMap((option) =>
          badNumbersOf(factory, option).map((value): [string, unknown] => [option, value]),
        ),
        ...factory.others,
      ];
      for (const [option, value] of cases) {
        const label = `${factory.name} with ${option}: ${typeof value === 'bigint' ? `${value}n` : String(value)}`;
        expectOptionError(await thrown(() => factory.build({ [option]: value })), label, option);
      }
      for (const unknownKey of ['timeoutMs', 'maxRetries', '__proto__x', 'constructor']) {
        const label = `${factory.name} with unknown key ${unknownKey}`;
        expectOptionError(await thrown(() => factory.build({ [unknownKey]: 1 })), label, unknownKey);
      }
      for (const value of factory.notOptions ?? ['fast', [], null, 42]) {
        const error = await thrown(() => factory.build(value));
        expect(error, `${factory.name} accepted ${String(value)} as options`).toBeDefined();
        expect(String((error as Error).message)).toContain(
          factory.name.replace(/^new /, '').replace('()', ''),
        );
      }
    });
  }
});

describe('required options', () => {
  it('samplingBreaker() without its threshold says so with an option error', async () => {
    expectOptionError(await thrown(() => samplingBreaker({} as never)), 'samplingBreaker({})', 'threshold');
  });
});

describe('bad hosts, URLs and headers', () => {
  const hosts: [string, RegExp][] = [
    ['javascript:alert(1)', /http: or https:/],
    ['file:///etc/passwd', /http: or https:/],
    ['ftp://127.0.0.1', /http: or https:/],
    [`http://user:${SECRET}@127.0.0.1:11434`, /credentials/],
    [`http://:${SECRET}@127.0.0.1`, /credentials/],
    ['http://127.0.0.1:11434/?x=1', /must not have a query/],
    ['http://127.0.0.1:11434/api#x', /must not have a query or a fragment/],
    ['http://127.0.0.1:99999', /valid URL/],
    ['http://exa mple.com', /spaces or control/],
    ['http://127.0.0.1\r\nHost: evil', /spaces or control/],
    ['http://', /valid URL|no host/],
  ];
  for (const [host, reason] of hosts) {
    it(`new Ollama() rejects host ${JSON.stringify(host)} naming the option, secret masked`, () => {
      let error: unknown;
      try {
        new Ollama({ host });
      } catch (caught) {
        error = caught;
      }
      expectOptionError(error, host, 'host');
      expect((error as Error).message).toMatch(reason);
      expect(errorText(error)).not.toContain(SECRET);
    });
  }

  it('new Ollama() takes host:port without a scheme as the official client does', async () => {
    const ollama = new Ollama({ host: '127.0.0.1:8080' });
    expect(ollama.host).toBe('http://127.0.0.1:8080');
    await ollama.close();
  });

  it('new Ollama() rejects CRLF, LF and NUL in a header value without showing the value', () => {
    for (const value of [`Bearer ${SECRET}\r\nX-Evil: 1`, `Bearer ${SECRET}\n`, `Bearer ${SECRET}\0`]) {
      let error: unknown;
      try {
        new Ollama({ headers: { authorization: value } });
      } catch (caught) {
        error = caught;
      }
      expectOptionError(error, JSON.stringify(value), 'headers');
      expect((error as Error).message).toContain('authorization');
      expect(errorText(error)).not.toContain(SECRET);
    }
    let error: unknown;
    try {
      new Ollama({ headers: { 'bad header\r\n': SECRET } });
    } catch (caught) {
      error = caught;
    }
    expectOptionError(error, 'bad header name', 'headers');
  });

  it('a createFetch() fetch rejects bad URLs clearly and never shows credentials', async () => {
    const fetch = createFetch();
    try {
      const cases: [string, RegExp][] = [
        ['javascript:alert(1)', /only http: and https:/],
        ['localhost:11434/api/tags', /only http: and https:/],
        ['/api/tags', /invalid URL/],
        [`http://user:${SECRET}@127.0.0.1:1/api/tags`, /credentials/],
        // Unparsable and carrying credentials: the message must still mask them.
        [`http://user:${SECRET}@bad host/api/tags`, /invalid URL/],
      ];
      for (const [url, reason] of cases) {
        const error = await fetch(url).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, url).toBeInstanceOf(InvalidOptionError);
        expect(error, url).toMatchObject({ code: ErrorCode.InvalidOption, option: 'input' });
        expect((error as Error).message, url).toMatch(reason);
        expect(errorText(error), `${url}: the secret leaked`).not.toContain(SECRET);
      }
    } finally {
      await fetch.close();
    }
  });

  it('a createFetch() fetch rejects a CRLF header value without showing it', async () => {
    const fetch = createFetch();
    try {
      const error = await fetch('http://127.0.0.1:1/api/tags', {
        headers: { authorization: `Bearer ${SECRET}\r\nX-Evil: 1` },
      }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error).toMatchObject({ code: ErrorCode.InvalidOption, option: 'headers' });
      expect((error as Error).message).toMatch(/header/i);
      expect(errorText(error), 'the secret leaked').not.toContain(SECRET);
    } finally {
      await fetch.close();
    }
  });
});

describe('answers a proxy might send', () => {
  let sim: OllamaSim;
  let ollama: Ollama;
  const messages = [{ role: 'user', content: 'What is a bulwark?' }];
  const chat = { model: 'llama3.2', messages };
  const expected = simulatedReply(chat);

  beforeAll(async () => {
    sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
    ollama = new Ollama({ host: sim.url, headers: { authorization: `Bearer ${SECRET}` } });
  });
  afterAll(async () => {
    await ollama.close();
    await sim.close();
  });

  async function streamed(): Promise<string> {
    let text = '';
    for await (const part of await ollama.chat({ ...chat, stream: true })) text += part.message.content;
    return text;
  }

  async function outcome(fault: Fault, call: () => Promise<unknown>): Promise<unknown> {
    sim.setFaults([fault]);
    try {
      return await call().then(
        (value) => ({ value }),
        (error: unknown) => {
          expect(errorText(error)).not.toContain(SECRET);
          return { error };
        },
      );
    } finally {
      sim.clearFaults();
    }
  }

  it('an HTML error page ends in a ResponseError with its status and readable text', async () => {
    for (const call of [
      () => ollama.chat(chat),
      streamed,
      () => ollama.list(),
      () => ollama.show({ model: 'llama3.2' }),
    ]) {
      const { error } = (await outcome({ kind: 'html', status: 502 }, call)) as { error: unknown };
      expect(error).toBeInstanceOf(ResponseError);
      expect((error as ResponseError).status).toBe(502);
      expect((error as ResponseError).retryable).toBe(true);
      expect((error as Error).message).toContain('Bad Gateway');
      expect((error as Error).message).not.toContain('<');
    }
  });

  it('an HTML page with status 200 on a stream is a ProtocolError naming the content type', async () => {
    for (const call of [() => ollama.chat(chat), streamed]) {
      const { error } = (await outcome({ kind: 'html', status: 200 }, call)) as { error: unknown };
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toContain('text/html');
    }
  });

  it('an empty 200 body is a ProtocolError for a generation', async () => {
    for (const call of [
      () => ollama.chat(chat),
      streamed,
      () => ollama.generate({ model: 'llama3.2', prompt: 'x' }),
    ]) {
      const { error } = (await outcome({ kind: 'empty' }, call)) as { error: unknown };
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toContain('final line');
    }
  });

  it('an empty 200 body is a ProtocolError where an answer is expected (list, show, version, embed)', async () => {
    const calls = {
      list: () => ollama.list(),
      show: () => ollama.show({ model: 'llama3.2' }),
      version: () => ollama.version(),
      embed: () => ollama.embed({ model: 'nomic-embed-text', input: 'x' }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const result = (await outcome({ kind: 'empty' }, call)) as { error?: unknown; value?: unknown };
      expect(
        result.error,
        `${name}() resolved ${JSON.stringify(result.value)} for an empty body`,
      ).toBeInstanceOf(ProtocolError);
    }
  });

  it('a truncated answer is a ProtocolError, never a partial result', async () => {
    for (const call of [() => ollama.chat(chat), streamed, () => ollama.list(), () => ollama.version()]) {
      const { error } = (await outcome({ kind: 'truncate' }, call)) as { error: unknown };
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toMatch(/not JSON/);
    }
  });

  it('a gzip-encoded answer (flushed line by line, or dripped) reads correctly', async () => {
    for (const fault of [{ gzip: true }, { gzip: true, dripBytes: 7, dripIntervalMs: 1 }] as Fault[]) {
      const whole = (await outcome(fault, () => ollama.chat(chat))) as {
        value: { message: { content: string } };
      };
      expect(whole.value.message.content).toBe(expected.content);
      expect(((await outcome(fault, streamed)) as { value: string }).value).toBe(expected.content);
      const list = (await outcome(fault, () => ollama.list())) as { value: { models: unknown[] } };
      expect(list.value.models.length).toBe(sim.modelNames().length);
    }
  });
});
