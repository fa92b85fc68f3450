import { InvalidOptionError } from './errors.js';
import type { Context, KeyOption } from './types.js';

/** The key used when the attribute a keyed policy reads is missing. */
export const DEFAULT_KEY = 'default';

/** The state key of a call: an attribute of the context, or a function of it. */
export function resolveKey(key: KeyOption | undefined, context: Context): string {
  if (key === undefined) return DEFAULT_KEY;
  if (typeof key === 'function') return String(key(context));
  if (key === 'host+model') {
    const { host, model } = context.attributes;
    if (typeof host !== 'string' || host === '') return resolveKey('model', context);
    return typeof model === 'string' && model !== '' ? `${host} ${model}` : host;
  }
  const value = context.attributes[key];
  return typeof value === 'string' && value !== '' ? value : DEFAULT_KEY;
}

/**
 * A map bounded to `maxSize` entries, evicting the least recently used. Reading an entry with `get`
 * makes it the most recent. `canEvict` may protect entries in use (e.g. a breaker mid-probe); a
 * protected entry is skipped and the map may then exceed its bound until one can go.
 */
export class LruMap<K, V> {
  readonly maxSize: number;
  readonly #map = new Map<K, V>();
  readonly #canEvict: ((value: V, key: K) => boolean) | undefined;
  readonly #onEvict: ((value: V, key: K) => void) | undefined;
  /** The most recently used key, which a read need not move (most calls reuse one key). */
  #newest: { key: K } | undefined;

  constructor(
    maxSize: number,
    options: { canEvict?: (value: V, key: K) => boolean; onEvict?: (value: V, key: K) => void } = {},
  ) {
    if (!Number.isSafeInteger(maxSize) || maxSize < 1)
      throw new InvalidOptionError(`LruMap: maxSize must be >= 1, got ${maxSize}`, 'maxSize');
    this.maxSize = maxSize;
    this.#canEvict = options.canEvict;
    this.#onEvict = options.onEvict;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined && this.#newest?.key !== key) {
      this.#map.delete(key);
      this.#map.set(key, value);
      this.#newest = { key };
    }
    return value;
  }

  /** Reads without changing recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  set(key: K, value: V): this {
    this.#map.delete(key);
    this.#map.set(key, value);
    this.#newest = { key };
    this.#trim(key);
    return this;
  }

  /** The value for `key`, created by `create` (and inserted) when missing. */
  getOrCreate(key: K, create: () => V): V {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    const value = create();
    this.set(key, value);
    return value;
  }

  delete(key: K): boolean {
    if (this.#newest?.key === key) this.#newest = undefined;
    return this.#map.delete(key);
  }

  clear(): void {
    this.#newest = undefined;
    this.#map.clear();
  }

  entries(): IterableIterator<[K, V]> {
    return this.#map.entries();
  }

  keys(): IterableIterator<K> {
    return this.#map.keys();
  }

  #trim(newest: K): void {
    if (this.#map.size <= this.maxSize) return;
    for (const [key, value] of this.#map) {
      if (this.#map.size <= this.maxSize || key === newest) break;
      if (this.#canEvict && !this.#canEvict(value, key)) continue;
      this.#map.delete(key);
      this.#onEvict?.(value, key);
    }
  }
}
