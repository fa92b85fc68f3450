import { describe, expect, it } from 'vitest';
import {
  base64Error,
  chatRequest,
  checkModelOptions,
  decodeInto,
  generateRequest,
  parseGoJson,
  quoteChar,
} from './go-decoding/index.js';
import { decodeKeepAlive, FOREVER_MS, parseGoDuration } from './go-duration.js';
import { float32Shortest, goJson, rfc3339Nano } from './go-json.js';
import { fullModelName, isValidModelName, parseModelName, shortModelName } from './model-name.js';

describe('Go JSON output', () => {
  it('escapes <, >, &, U+2028 and U+2029 like json.Marshal', () => {
    expect(goJson({ text: '<a> & b\u2028\u2029' })).toBe(
      '{"text":"\\u003ca\\u003e \\u0026 b\\u2028\\u2029"}',
    );
    expect(goJson({ text: 'plain' })).toBe('{"text":"plain"}');
  });

  it('formats times as RFC 3339 with up to nine fractional digits, trailing zeros dropped', () => {
    expect(rfc3339Nano(Date.UTC(2025, 0, 2, 3, 4, 5) + 0.25)).toBe('2025-01-02T03:04:05.00025Z');
    expect(rfc3339Nano()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    expect(rfc3339Nano(Date.UTC(2025, 0, 2, 3, 4, 5) + 120)).toBe('2025-01-02T03:04:05.12Z');
    expect(rfc3339Nano(Date.UTC(2025, 0, 2, 3, 4, 5))).toBe('2025-01-02T03:04:05Z');
  });

  it('prints float32 values as Go does', () => {
    expect(JSON.stringify(float32Shortest(0.1))).toBe('0.1');
    expect(JSON.stringify(float32Shortest(1 / 3))).toBe('0.33333334');
    expect(JSON.stringify(Math.fround(0.1))).toBe('0.10000000149011612');
  });
});

describe('Go JSON decoding errors', () => {
  it.each([
    ['', 'EOF'],
    ['x', "invalid character 'x' looking for beginning of value"],
    ['{"a":1,}', "invalid character '}' looking for beginning of object key string"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a":-x}', "invalid character 'x' in numeric literal"],
    ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
    ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
    ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
    ['{"a":"\\u12x4"}', "invalid character 'x' in \\u hexadecimal character escape"],
    ['{"a":nul}', "invalid character '}' in literal null (expecting 'l')"],
    ['{"a":[', 'unexpected EOF'],
    ['{"a":\t\u0001}', "invalid character '\\x01' looking for beginning of value"],
  ])('%j gives %j', (body, message) => {
    const result = parseGoJson(body);
    expect(result).toMatchObject({ error: message });
  });

  it('names bytes the way Go quotes them', () => {
    expect(quoteChar(39)).toBe("'\\''");
    expect(quoteChar(34)).toBe(`'"'`);
    expect(quoteChar(9)).toBe("'\\t'");
    expect(quoteChar(0xc3)).toBe("'Ã'");
    expect(quoteChar(0x85)).toBe("'\\u0085'");
  });

  it('reads the first value and ignores the rest', () => {
    expect(parseGoJson('{"a":1} {"b":2}')).toEqual({ value: { a: 1 } });
    expect(parseGoJson('{"a":1}garbage')).toEqual({ value: { a: 1 } });
  });

  it('reports type errors with the struct and field path, the first one winning', () => {
    expect(decodeInto({ stream: 'yes', model: 1 }, chatRequest)).toEqual({
      error: 'json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool',
    });
    expect(decodeInto({ tools: [{ function: { name: 3 } }] }, chatRequest)).toEqual({
      error:
        'json: cannot unmarshal number into Go struct field ToolFunction.tools.function.name of type string',
    });
    expect(decodeInto({ messages: [{ images: ['%%%'] }] }, chatRequest)).toEqual({
      error: 'illegal base64 data at input byte 0',
    });
    expect(decodeInto('text', chatRequest)).toEqual({
      error: 'json: cannot unmarshal string into Go value of type api.ChatRequest',
    });
    expect(decodeInto(null, chatRequest)).toEqual({ value: {} });
  });

  it('decodes images as Go decodes base64 into a []byte: padding required, line breaks skipped', () => {
    // Offsets as base64.StdEncoding.Decode reports them (CorruptInputError).
    expect(base64Error('aGk=')).toBeUndefined();
    expect(base64Error('')).toBeUndefined();
    expect(base64Error('aG\nk=\r\n')).toBeUndefined();
    expect(base64Error('aGk')).toBe('illegal base64 data at input byte 0');
    expect(base64Error('aGVsbG8')).toBe('illegal base64 data at input byte 4');
    expect(base64Error('aGVsb?8=')).toBe('illegal base64 data at input byte 5');
    expect(base64Error('dGhpcyBpcyBhI@HRlc3Qgc3RyaW5nLg==')).toBe('illegal base64 data at input byte 13');
    expect(base64Error('a===')).toBe('illegal base64 data at input byte 1');
    expect(base64Error('aG=')).toBe('illegal base64 data at input byte 3');
    expect(base64Error('aG=x')).toBe('illegal base64 data at input byte 2');
    expect(base64Error('aGk=aGk=')).toBe('illegal base64 data at input byte 4');
    expect(base64Error('data:image/png;base64,aGk=')).toBe('illegal base64 data at input byte 4');
    // In a message (api.Message has its own UnmarshalJSON) the error aborts at once; in a generate
    // request it is saved and the first error of the document wins.
    expect(decodeInto({ messages: [{ images: ['aGk'], content: 1 }] }, chatRequest)).toEqual({
      error: 'illegal base64 data at input byte 0',
    });
    expect(decodeInto({ images: ['aGk='], stream: 'x' }, generateRequest)).toEqual({
      error: 'json: cannot unmarshal string into Go struct field GenerateRequest.stream of type bool',
    });
    expect(decodeInto({ images: ['aGk'], stream: 'x' }, generateRequest)).toEqual({
      error: 'illegal base64 data at input byte 0',
    });
  });

  it('lower-cases message roles and matches keys without regard to case', () => {
    const result = decodeInto({ MODEL: 'x', messages: [{ Role: 'USER', content: 'hi' }] }, chatRequest);
    expect(result).toEqual({ value: { model: 'x', messages: [{ role: 'user', content: 'hi' }] } });
  });

  it('checks option types as api.Options.FromMap does', () => {
    expect(
      checkModelOptions({ num_predict: 3.5, temperature: 1, unknown: 'x', stop: ['a'] }),
    ).toBeUndefined();
    expect(checkModelOptions({ temperature: '1' })).toBe('option "temperature" must be of type float32');
    expect(checkModelOptions({ use_mmap: 1 })).toBe('option "use_mmap" must be of type boolean');
    expect(checkModelOptions({ stop: 'x' })).toBe('option "stop" must be of type array');
    expect(checkModelOptions({ stop: [1] })).toBe('option "stop" must be of an array of strings');
  });
});

describe('Go durations and keep_alive', () => {
  it.each([
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['-1s', -1000],
    ['0', 0],
    ['1us', 0.001],
    ['.5s', 500],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toEqual({ ms });
  });

  it.each([
    ['10', 'time: missing unit in duration "10"'],
    ['', 'time: invalid duration ""'],
    ['abc', 'time: invalid duration "abc"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['.s', 'time: invalid duration ".s"'],
  ])('rejects %j', (text, error) => {
    expect(parseGoDuration(text)).toEqual({ error });
  });

  it('reads keep_alive numbers as seconds and negatives as forever', () => {
    expect(decodeKeepAlive(30)).toEqual({ ms: 30_000 });
    expect(decodeKeepAlive(-1)).toEqual({ ms: FOREVER_MS });
    expect(decodeKeepAlive('-5m')).toEqual({ ms: FOREVER_MS });
    expect(decodeKeepAlive('5m')).toEqual({ ms: 300_000 });
    expect(decodeKeepAlive([])).toEqual({ error: "Unsupported type: '[]interface {}'" });
  });
});

describe('model names', () => {
  it('fills in the default host, namespace and tag', () => {
    const name = parseModelName('llama3.2');
    expect(name).toEqual({
      host: 'registry.ollama.ai',
      namespace: 'library',
      model: 'llama3.2',
      tag: 'latest',
    });
    expect(fullModelName(name)).toBe('registry.ollama.ai/library/llama3.2:latest');
    expect(shortModelName(name)).toBe('llama3.2:latest');
    expect(shortModelName(parseModelName('me/model:7b'))).toBe('me/model:7b');
    expect(shortModelName(parseModelName('example.com:5000/me/model:q4'))).toBe(
      'example.com:5000/me/model:q4',
    );
  });

  it('validates parts like Ollama', () => {
    expect(isValidModelName(parseModelName('qwen3:8b'))).toBe(true);
    expect(isValidModelName(parseModelName('bad name'))).toBe(false);
    expect(isValidModelName(parseModelName(''))).toBe(false);
    expect(isValidModelName(parseModelName('-dash'))).toBe(false);
    expect(isValidModelName(parseModelName('name.space/model'))).toBe(false);
  });
});
