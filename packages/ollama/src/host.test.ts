import { ErrorCode, InvalidOptionError } from '@bulwark/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkHeaders, resolveHost } from './host.js';
import { Ollama } from './ollama.js';
import { errorText } from './test-support.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

function thrown(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe(ErrorCode.InvalidOption);
    return error as InvalidOptionError;
  }
  throw new Error('expected a throw');
}

describe('resolveHost', () => {
  it('defaults to http://127.0.0.1:11434', () => {
    vi.stubEnv('OLLAMA_HOST', '');
    expect(resolveHost(undefined).origin).toBe('http://127.0.0.1:11434');
    expect(new Ollama().host).toBe('http://127.0.0.1:11434');
  });

  it('reads OLLAMA_HOST when no host is given, and prefers the option', () => {
    vi.stubEnv('OLLAMA_HOST', 'gpu-box:8000');
    expect(new Ollama().host).toBe('http://gpu-box:8000');
    expect(new Ollama({ host: 'other' }).host).toBe('http://other:11434');
  });

  it.each([
    ['gpu-box', 'http://gpu-box:11434'],
    ['gpu-box:1234', 'http://gpu-box:1234'],
    ['10.0.0.5', 'http://10.0.0.5:11434'],
    ['[::1]', 'http://[::1]:11434'],
    ['[::1]:9000', 'http://[::1]:9000'],
    ['http://gpu-box', 'http://gpu-box'],
    ['http://gpu-box:80', 'http://gpu-box'],
    ['https://gpu-box', 'https://gpu-box'],
    ['https://gpu-box:8443', 'https://gpu-box:8443'],
    ['http://gpu-box:11434/', 'http://gpu-box:11434'],
    ['gpu-box:1234/', 'http://gpu-box:1234'],
    ['HTTP://GPU-Box///', 'http://gpu-box'],
    ['  gpu-box  ', 'http://gpu-box:11434'],
  ])('%s → %s', (input, origin) => {
    const url = resolveHost(input);
    expect(url.origin).toBe(origin);
    expect(url.port).toBe(new URL(origin).port);
  });

  it.each([
    ['javascript:x', 'http: or https:'],
    ['ftp://gpu-box', 'http: or https:'],
    ['file:///etc/passwd', 'http: or https:'],
    ['http://gpu-box?x=1', 'must not have a query or a fragment'],
    ['http://gpu-box/ollama#top', 'must not have a query or a fragment'],
    ['http://gpu-box\r\nX-Injected: 1', 'control characters'],
    ['http://gpu box', 'control characters'],
    ['http://', 'not a valid URL'],
  ])('rejects %j naming the host', (input, why) => {
    const error = thrown(() => new Ollama({ host: input }));
    expect(error.option).toBe('host');
    expect(error.message).toContain(why);
    expect(error.message).toContain(JSON.stringify(input.trim()).slice(0, 10));
  });

  // Every form ollama-python's _parse_host documents, and its result.
  it.each([
    [':56789', 'http://127.0.0.1:56789'],
    ['http://:56789', 'http://127.0.0.1:56789'],
    ['1.2.3.4', 'http://1.2.3.4:11434'],
    ['1.2.3.4:56789', 'http://1.2.3.4:56789'],
    ['http://1.2.3.4', 'http://1.2.3.4'],
    ['https://1.2.3.4', 'https://1.2.3.4'],
    ['https://1.2.3.4:56789', 'https://1.2.3.4:56789'],
    ['example.com', 'http://example.com:11434'],
    ['example.com:56789', 'http://example.com:56789'],
    ['example.com/', 'http://example.com:11434'],
    ['example.com:56789/', 'http://example.com:56789'],
    ['example.com/path', 'http://example.com:11434/path'],
    ['example.com:56789/path', 'http://example.com:56789/path'],
    ['https://example.com:56789/path', 'https://example.com:56789/path'],
    ['example.com:56789/path/', 'http://example.com:56789/path'],
    ['http://gateway:8080/ollama/v1//', 'http://gateway:8080/ollama/v1'],
    ['[0001:002:003:0004::1]', 'http://[1:2:3:4::1]:11434'],
    ['[0001:002:003:0004::1]:56789/path', 'http://[1:2:3:4::1]:56789/path'],
    ['https://[0001:002:003:0004::1]:56789/path/', 'https://[1:2:3:4::1]:56789/path'],
  ])('takes %s as the Python client does → %s', (input, base) => {
    vi.stubEnv('OLLAMA_HOST', '');
    expect(new Ollama({ host: input }).baseUrl).toBe(base);
    vi.stubEnv('OLLAMA_HOST', input);
    expect(new Ollama().baseUrl).toBe(base);
  });

  it('names OLLAMA_HOST, not an option, when the bad value came from it', () => {
    vi.stubEnv('OLLAMA_HOST', 'ftp://gpu-box');
    const error = thrown(() => new Ollama());
    expect(error.message).toBe(
      'new Ollama(): the environment variable OLLAMA_HOST must be an http: or https: URL, got "ftp://gpu-box"',
    );
    expect(error.option).toBe('OLLAMA_HOST');
    const option = thrown(() => new Ollama({ host: 'ftp://gpu-box' }));
    expect(option.message).toContain('option "host"');
    expect(option.message).not.toContain('OLLAMA_HOST');
  });

  it.each([
    'http://user:secret@gpu-box',
    'https://:secret@gpu-box:443',
    'user:secret@gpu-box',
    'user:secret@gpu-box:11434',
    'http://user:secret@gpu-box/path',
    'ftp://user:secret@gpu-box',
  ])('rejects credentials in %j without showing them', (input) => {
    const error = thrown(() => new Ollama({ host: input }));
    expect(error.option).toBe('host');
    expect(errorText(error)).not.toContain('secret');
    expect(error.message).toContain('gpu-box');
  });

  it('rejects OLLAMA_HOST with credentials without showing them', () => {
    vi.stubEnv('OLLAMA_HOST', 'http://admin:secret@gpu-box');
    const error = thrown(() => new Ollama());
    expect(errorText(error)).not.toContain('secret');
  });
});

describe('headers', () => {
  it('passes valid headers, lower-cased', () => {
    expect(checkHeaders({ Authorization: 'Bearer x', 'X-Trace': '1' })).toEqual({
      authorization: 'Bearer x',
      'x-trace': '1',
    });
  });

  it.each([
    ['a CR', 'Bearer sk-SECRET\rX: y'],
    ['a LF', 'Bearer sk-SECRET\nX: y'],
    ['a NUL', 'Bearer sk-SECRET\0'],
    ['a number', 42],
  ])('rejects a value with %s, naming the header and never the value', (_, value) => {
    const error = thrown(() => new Ollama({ headers: { authorization: value as string } }));
    expect(error.option).toBe('headers');
    expect(error.message).toContain('authorization');
    expect(errorText(error)).not.toContain('SECRET');
    expect(errorText(error)).not.toContain('42');
  });

  it('rejects an invalid header name', () => {
    const error = thrown(() => new Ollama({ headers: { 'bad name': 'x' } }));
    expect(error.message).toContain('"bad name"');
  });

  it('rejects headers that are not an object without showing them', () => {
    for (const headers of ['Bearer sk-SECRET', ['Bearer sk-SECRET'], null]) {
      const error = thrown(() => new Ollama({ headers: headers as never }));
      expect(error.option).toBe('headers');
      expect(errorText(error)).not.toContain('SECRET');
    }
  });
});

describe('new Ollama() options', () => {
  it.each([
    ['connectMs', -1],
    ['connectMs', Number.NaN],
    ['connectMs', 2_147_483_648],
    ['connectMs', '10'],
    ['connectMs', 0],
    ['headersMs', -5],
    ['headersMs', Number.NaN],
    ['firstTokenMs', Number.NEGATIVE_INFINITY],
    ['firstTokenMs', null],
    ['idleMs', -1],
    ['idleMs', true],
    ['connections', 0],
    ['connections', 1.5],
    ['connections', Number.POSITIVE_INFINITY],
    ['connections', '8'],
    ['maxLineBytes', 0],
    ['maxLineBytes', -1],
    ['maxLineBytes', Number.NaN],
    ['host', 5],
    ['policy', 'retry'],
    ['policy', {}],
    ['instrument', 'otel'],
  ])('%s: %s is rejected naming the option', (option, value) => {
    const error = thrown(() => new Ollama({ [option]: value } as never));
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
  });

  it('rejects unknown keys naming them', () => {
    const error = thrown(() => new Ollama({ timeoutMs: 5 } as never));
    expect(error.option).toBe('timeoutMs');
    expect(error.message).toContain('"timeoutMs"');
  });

  it('rejects options that are not an object', () => {
    thrown(() => new Ollama('http://x' as never));
  });

  it('accepts every option at a valid value', () => {
    const ollama = new Ollama({
      host: 'http://127.0.0.1:1',
      headers: { authorization: 'Bearer x' },
      connections: 4,
      connectMs: 1_000,
      headersMs: 1_000,
      firstTokenMs: 1_000,
      idleMs: 1_000,
      maxLineBytes: 1_000,
      instrument: (policy) => policy,
    });
    expect(ollama.host).toBe('http://127.0.0.1:1');
  });
});
