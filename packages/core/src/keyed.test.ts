import { describe, expect, it } from 'vitest';
import { createContext } from './context.js';
import { ErrorCode, InvalidOptionError } from './errors.js';
import { DEFAULT_KEY, LruMap, resolveKey } from './keyed.js';

describe('LruMap', () => {
  it('evicts the least recently used entry at its bound', () => {
    const evicted: string[] = [];
    const map = new LruMap<string, number>(2, { onEvict: (_, key) => evicted.push(key) });
    map.set('a', 1).set('b', 2);
    map.get('a');
    map.set('c', 3);
    expect([...map.keys()]).toEqual(['a', 'c']);
    expect(evicted).toEqual(['b']);
    expect(map.size).toBe(2);
  });

  it('skips entries that cannot be evicted', () => {
    const map = new LruMap<string, { busy: boolean }>(1, { canEvict: (value) => !value.busy });
    map.set('a', { busy: true });
    map.set('b', { busy: false });
    expect([...map.keys()]).toEqual(['a', 'b']);
    map.peek('a')!.busy = false;
    map.set('c', { busy: false });
    expect([...map.keys()]).toEqual(['c']);
  });

  it('creates missing entries once', () => {
    const map = new LruMap<string, object>(3);
    const first = map.getOrCreate('k', () => ({}));
    expect(map.getOrCreate('k', () => ({}))).toBe(first);
  });

  it('rejects a bound below 1', () => {
    expect(() => new LruMap(0)).toThrowError(/maxSize must be >= 1, got 0/);
    expect(() => new LruMap(1.5)).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidOption, option: 'maxSize' }),
    );
    expect(() => new LruMap(Number.NaN)).toThrowError(InvalidOptionError);
  });
});

describe('resolveKey', () => {
  const context = createContext({ attributes: { model: 'llama3.2', host: 'http://h:1', operation: 'chat' } });
  it('reads the named attribute, or runs the function', () => {
    expect(resolveKey('model', context)).toBe('llama3.2');
    expect(resolveKey('host', context)).toBe('http://h:1');
    expect(resolveKey('operation', context)).toBe('chat');
    expect(resolveKey((c) => `${c.attributes.host}/${c.attributes.model}`, context)).toBe(
      'http://h:1/llama3.2',
    );
  });

  it('falls back to the default key when the attribute is missing', () => {
    expect(resolveKey('model', createContext())).toBe(DEFAULT_KEY);
    expect(resolveKey(undefined, context)).toBe(DEFAULT_KEY);
  });

  it("keys 'host+model' by both, by what is there when one is missing", () => {
    expect(resolveKey('host+model', context)).toBe('http://h:1 llama3.2');
    expect(resolveKey('host+model', createContext({ attributes: { host: 'http://h:1' } }))).toBe(
      'http://h:1',
    );
    expect(resolveKey('host+model', createContext({ attributes: { model: 'qwen3' } }))).toBe('qwen3');
    expect(resolveKey('host+model', createContext())).toBe(DEFAULT_KEY);
  });

  it("takes each attempt's attributes from `attemptAttributes` as a retry starts the attempt", () => {
    const hosts = ['http://a:1', 'http://b:1', 'http://c:1'];
    const asked: number[] = [];
    const call = createContext({
      attributes: { model: 'llama3.2' },
      attemptAttributes: (attempt) => {
        asked.push(attempt);
        return { host: hosts[attempt] };
      },
    });
    expect(resolveKey('host', call)).toBe('http://a:1');
    // The first attempt of a retry keeps the call's first host; later attempts get their own.
    expect(resolveKey('host', call.with({ attempt: 0 }))).toBe('http://a:1');
    const second = call.with({ attempt: 1 });
    expect(resolveKey('host+model', second)).toBe('http://b:1 llama3.2');
    expect(resolveKey('host', second.with({ budgets: { idleMs: 5 } }))).toBe('http://b:1');
    expect(resolveKey('host', second.with({ attempt: 2 }))).toBe('http://c:1');
    expect(asked).toEqual([0, 1, 2]);
  });
});
