import { describe, expect, it } from 'vitest';
import { ManualClock, realClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { anyOf, clockOption, duration, func, integer, keyOption, oneOf, validateOptions } from './options.js';

const schema = {
  timeoutMs: duration(),
  limit: integer(1),
  key: keyOption,
  mode: oneOf('a', 'b'),
  on: anyOf(func, oneOf(false)),
};

/** The options the schema checks; the tests also feed it values of other types, as a caller may. */
type TestOptions = { [K in keyof typeof schema]?: unknown };

describe('validateOptions', () => {
  it('accepts valid options and undefined values', () => {
    expect(() =>
      validateOptions('test()', { timeoutMs: 0, limit: 3, key: 'model', mode: 'a', on: false }, schema),
    ).not.toThrow();
    expect(() => validateOptions('test()', { timeoutMs: undefined }, schema)).not.toThrow();
    expect(() => validateOptions('test()', undefined, schema)).not.toThrow();
  });

  it('rejects an unknown key, naming it', () => {
    expect(() => validateOptions<TestOptions>('test()', { timeoutMS: 5 } as never, schema)).toThrowError(
      InvalidOptionError,
    );
    expect(() => validateOptions<TestOptions>('test()', { timeoutMS: 5 } as never, schema)).toThrowError(
      'test(): unknown option "timeoutMS" (known options: timeoutMs, limit, key, mode, on)',
    );
  });

  it.each([
    [{ timeoutMs: -1 }, 'option "timeoutMs" must be a finite number of milliseconds >= 0, got -1'],
    [{ timeoutMs: Number.NaN }, 'got NaN'],
    [{ timeoutMs: Number.POSITIVE_INFINITY }, 'got Infinity'],
    [{ timeoutMs: '5' }, 'got "5"'],
    [{ limit: 1.5 }, 'option "limit" must be a whole number >= 1, got 1.5'],
    [
      { key: 'region' },
      'option "key" must be one of "model", "host", "host+model", "operation" or a function, got "region"',
    ],
    [{ on: true }, 'option "on" must be a function or one of false, got true'],
  ])('rejects %j naming the option and the value', (options, message) => {
    let error: unknown;
    try {
      validateOptions<TestOptions>('test()', options as never, schema);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(message);
    expect((error as InvalidOptionError).option).toBe(Object.keys(options)[0]);
  });

  it('rejects an own key only: an inherited name is unknown too', () => {
    expect(() => validateOptions<TestOptions>('test()', { toString: 5 } as never, schema)).toThrowError(
      'test(): unknown option "toString"',
    );
  });

  it('accepts a clock and rejects what is not one, with one message', () => {
    expect(clockOption(realClock)).toBeUndefined();
    expect(clockOption(new ManualClock())).toBeUndefined();
    for (const value of [{}, 'real', Date, { now: () => 0 }, null]) {
      expect(clockOption(value)).toBe('must be a Clock (an object with now() and setTimeout())');
    }
  });

  it('rejects options that are not an object', () => {
    expect(() => validateOptions<TestOptions>('test()', 5 as never, schema)).toThrowError(
      'test(): options must be an object, got 5',
    );
    expect(() => validateOptions<TestOptions>('test()', null as never, schema)).toThrowError(/got null/);
  });
});
