import { ErrorCode, ProtocolError } from '@bulwark/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineReader } from './line-reader.js';

function read(chunks: Uint8Array[], maxLineBytes?: number): unknown[] {
  const reader = new LineReader(maxLineBytes);
  const records: unknown[] = [];
  const collect = (record: unknown) => records.push(record);
  for (const chunk of chunks) reader.push(chunk, collect);
  reader.end(collect);
  return records;
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** Cuts `data` at the given offsets (sorted, deduplicated, within bounds). */
function cut(data: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => offset % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(data.subarray(start, point));
    start = point;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

describe('LineReader', () => {
  const records = [
    { model: 'llama3.2', message: { role: 'assistant', content: 'Héllo, wörld 👋 \u003c' } },
    { model: 'llama3.2', message: { role: 'assistant', content: '日本語のテキスト' } },
    { done: true, eval_count: 3 },
  ];
  const text = records.map((record) => JSON.stringify(record)).join('\n');

  it('reads lines split at every byte boundary, multi-byte characters included', () => {
    const data = bytes(`${text}\n`);
    for (let at = 0; at <= data.length; at++) {
      expect(read([data.subarray(0, at), data.subarray(at)])).toEqual(records);
    }
  });

  it('reads a stream fed one byte at a time', () => {
    const data = bytes(`${text}\n`);
    expect(read(Array.from(data, (byte) => Uint8Array.of(byte)))).toEqual(records);
  });

  it('accepts CRLF, blank lines, whitespace-only lines and a last line without a newline', () => {
    const data = bytes(`\r\n${records.map((record) => JSON.stringify(record)).join('\r\n\n  \t\n')}`);
    expect(read([data])).toEqual(records);
  });

  it('skips a byte order mark, split across chunks or not, and reads invalid UTF-8 as U+FFFD', () => {
    const data = bytes(`\uFEFF${text}\n`);
    expect(data.subarray(0, 3)).toEqual(Uint8Array.of(0xef, 0xbb, 0xbf));
    expect(read([data])).toEqual(records);
    expect(read([data.subarray(0, 2), data.subarray(2)])).toEqual(records);
    const invalid = Uint8Array.from([...bytes('{"content":"a'), 0xff, ...bytes('b"}\n')]);
    expect(read([invalid])).toEqual([{ content: 'a\uFFFDb' }]);
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const data = bytes(`${text}\n`);
    const view = new Uint8Array(data.buffer.slice(0), 0, data.length);
    expect(read([view])).toEqual(records);
    expect(read([Buffer.from(data)])).toEqual(records);
  });

  it('fails a line that is not JSON with a ProtocolError', () => {
    expect(() => read([bytes('{"a":1}\n{"a":\n')])).toThrow(ProtocolError);
    try {
      read([bytes('not json at all\n')]);
    } catch (error) {
      expect((error as ProtocolError).code).toBe(ErrorCode.Protocol);
      expect((error as Error).message).toContain('not json at all');
    }
  });

  it('fails a line longer than maxLineBytes, in one chunk or many, without waiting for its end', () => {
    const long = `{"content":"${'x'.repeat(200)}"}`;
    expect(() => read([bytes(`${long}\n`)], 100)).toThrow(/exceeded 100 bytes/);
    const reader = new LineReader(100);
    const collect = () => {};
    expect(() => {
      for (let i = 0; i < 20; i++) reader.push(bytes('x'.repeat(10)), collect);
    }).toThrow(ProtocolError);
    // exactly at the limit is fine
    const exact = `{"c":"${'y'.repeat(100 - 8)}"}`;
    expect(bytes(exact).length).toBe(100);
    expect(read([bytes(`${exact}\n`)], 100)).toEqual([JSON.parse(exact)]);
    expect(read(cut(bytes(`${exact}\r\n`), [13, 50, 99]), 101)).toEqual([JSON.parse(exact)]);
  });

  it('reads the lines of one chunk as one parse only when each line is one object on its own', () => {
    const objects = [{ a: 1 }, { b: '},{' }, { c: [1, 2] }];
    expect(read([bytes(`${objects.map((object) => JSON.stringify(object)).join('\n')}\n`)])).toEqual(objects);
    // Two objects on one line are not a record, even where the lines joined would parse.
    expect(() => read([bytes('{"a":1},{"b":2}\n{"c":3}\n')])).toThrow(ProtocolError);
    // Lines that are objects only when joined.
    expect(() => read([bytes('{"a":"x\n"}\n')])).toThrow(ProtocolError);
    expect(() => read([bytes('{"a":[1\n2]}\n{"b":1}\n')])).toThrow(ProtocolError);
    // Other JSON values are read as they are, one line at a time.
    expect(read([bytes('{"a":1}\n[1]\n2\n')])).toEqual([{ a: 1 }, [1], 2]);
  });

  it('delivers the records before a bad or over-long line of the same chunk, then fails', () => {
    for (const bad of ['not json', `{"c":"${'x'.repeat(200)}"}`]) {
      const reader = new LineReader(100);
      const records: unknown[] = [];
      expect(() =>
        reader.push(bytes(`{"a":1}\n{"b":2}\n${bad}\n{"d":4}\n`), (record) => records.push(record)),
      ).toThrow(ProtocolError);
      expect(records).toEqual([{ a: 1 }, { b: 2 }]);
    }
  });

  it('arbitrary chunking gives the same records (property)', () => {
    const value = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    );
    const record = fc.dictionary(fc.string({ unit: 'grapheme-ascii', maxLength: 8 }), value, {
      maxKeys: 5,
    });
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        (list, offsets, newline, trailing) => {
          const data = bytes(
            list.map((entry) => JSON.stringify(entry)).join(newline) + (trailing ? newline : ''),
          );
          expect(read(cut(data, offsets))).toEqual(list);
        },
      ),
      { numRuns: 300 },
    );
  });
});
