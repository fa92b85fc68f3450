/** A function of a string, cached: at most `limit` results are kept, all dropped at once beyond it. */
export interface Memo<T> {
  (key: string): T;
  /** Forgets every result (what they were derived from changed). */
  clear(): void;
}

export function memo<T>(derive: (key: string) => T, limit = 1024): Memo<T> {
  const cache = new Map<string, T>();
  const lookup = (key: string): T => {
    let value = cache.get(key);
    if (value === undefined) {
      value = derive(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, value);
    }
    return value;
  };
  return Object.assign(lookup, { clear: () => cache.clear() });
}
