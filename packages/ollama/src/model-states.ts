import type { Clock } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import type { ModelStatus } from './types.js';

/** An owned load in flight. */
export interface OwnedLoad {
  /** Clock time the load request was sent. */
  readonly startedAt: number;
  /** Settles when the load ends; rejects with the load's error. */
  readonly promise: Promise<void>;
  /** Whether a waiter has already been told to count the failed load (a breaker counts it once). */
  failureClaimed: boolean;
  /** Stops the load (the client closes). */
  readonly controller: AbortController;
}

/** What Bulwark knows of one model on one host. */
export interface ModelEntry {
  readonly host: string;
  /** The model's name as first written by a caller (`llama3.2` and `llama3.2:latest` share an entry). */
  readonly model: string;
  /** The key: host and the name with its tag. */
  readonly key: string;
  /** Clock time until which the model is warm; `-Infinity` when cold, `Infinity` for "forever". */
  warmUntil: number;
  /** The load Bulwark owns, while it runs. */
  load: OwnedLoad | undefined;
  /** Which request loads it: an empty generate, or an empty embed for embedding models. */
  kind: 'generate' | 'embed' | undefined;
  /** How long the last load Bulwark owned took, ms. */
  lastLoadMs: number | undefined;
  /** With shared state: another process holds the claim to load it (as of the last read). */
  loadingElsewhere: boolean;
  /** With shared state: the `warmUntil` last written to or read from the store. */
  sharedUntil: number;
  /** Clock time the client last learned from an answer that the model is warm. */
  learnedAt?: number;
}

/**
 * A model's name as Ollama resolves it for residency: `llama3.2` and `llama3.2:latest` are one
 * model. Only the missing tag is added; the rest is kept as written.
 */
export function normalizeModel(model: string): string {
  const slash = model.lastIndexOf('/');
  return model.indexOf(':', slash + 1) >= 0 ? model : `${model}:latest`;
}

/**
 * Model states per (host, model), learned from what the client sees: the answers of loads it owns,
 * the final chunks of calls (keep-alive arithmetic), `/api/ps` when it is asked. Bounded (least
 * recently used entries go, never one that is loading); no timers: expiry is read off the clock.
 */
export class ModelStates {
  readonly #entries: LruMap<string, ModelEntry>;
  readonly clock: Clock;
  /** The server's own keep-alive (`OLLAMA_KEEP_ALIVE`), for calls that set none. */
  readonly serverKeepAliveMs: number;
  /** Told when a model's warmth changed (it answered, went cold): shared state publishes it. */
  onChange: ((entry: ModelEntry) => void) | undefined;

  constructor(options: { maxModels: number; clock: Clock; serverKeepAliveMs: number }) {
    this.#entries = new LruMap(options.maxModels, { canEvict: (entry) => entry.load === undefined });
    this.clock = options.clock;
    this.serverKeepAliveMs = options.serverKeepAliveMs;
  }

  /** The entry of (host, model), created cold when missing. */
  entry(host: string, model: string): ModelEntry {
    const key = `${host} ${normalizeModel(model)}`;
    return this.#entries.getOrCreate(key, () => ({
      host,
      model,
      key,
      warmUntil: Number.NEGATIVE_INFINITY,
      load: undefined,
      kind: undefined,
      lastLoadMs: undefined,
      loadingElsewhere: false,
      sharedUntil: Number.NEGATIVE_INFINITY,
    }));
  }

  /** The entry of (host, model) if known, without touching its recency. */
  peek(host: string, model: string): ModelEntry | undefined {
    return this.#entries.peek(`${host} ${normalizeModel(model)}`);
  }

  /** A load of it runs: this client's own, or (with shared state) another process's. */
  isLoading(entry: ModelEntry): boolean {
    return entry.load !== undefined || entry.loadingElsewhere;
  }

  isWarm(entry: ModelEntry): boolean {
    return entry.load === undefined && this.clock.now() < entry.warmUntil;
  }

  /**
   * The model answered just now: it stays warm for its keep-alive (the call's, else the server's),
   * less a margin for the time the answer took to arrive.
   */
  warmFor(entry: ModelEntry, keepAliveMs: number | undefined): void {
    const ms = keepAliveMs ?? this.serverKeepAliveMs;
    entry.learnedAt = this.clock.now();
    entry.warmUntil = ms === Number.POSITIVE_INFINITY ? ms : this.clock.now() + ms - Math.min(1_000, ms / 10);
    this.onChange?.(entry);
  }

  cold(entry: ModelEntry): void {
    entry.warmUntil = Number.NEGATIVE_INFINITY;
    this.onChange?.(entry);
  }

  /** Forgets a model (the server does not have it). */
  forget(entry: ModelEntry): void {
    if (entry.load === undefined) this.#entries.delete(entry.key);
  }

  /**
   * What `/api/ps` answered for `host`: listed models are warm until their `expires_at`; known
   * models it does not list are cold, unless Bulwark is loading them (a loading model is not listed)
   * or learned them warm from an answer after `askedAt` (the clock time the list was asked for).
   */
  learnLoaded(
    host: string,
    models: readonly { name?: unknown; model?: unknown; expires_at?: unknown }[],
    askedAt = Number.POSITIVE_INFINITY,
  ): void {
    const listed = new Set<ModelEntry>();
    const now = this.clock.now();
    const wallNow = Date.now();
    for (const model of models) {
      const name = typeof model.name === 'string' ? model.name : model.model;
      if (typeof name !== 'string') continue;
      const entry = this.entry(host, name);
      listed.add(entry);
      const expires = typeof model.expires_at === 'string' ? Date.parse(model.expires_at) : Number.NaN;
      if (entry.load === undefined && !Number.isNaN(expires)) {
        entry.warmUntil = now + (expires - wallNow);
        this.onChange?.(entry);
      }
    }
    for (const [, entry] of this.#entries.entries()) {
      if (
        entry.host === host &&
        entry.load === undefined &&
        !listed.has(entry) &&
        !((entry.learnedAt ?? Number.NEGATIVE_INFINITY) >= askedAt)
      )
        this.cold(entry);
    }
  }

  /** A read-only picture of every known model. */
  snapshot(): ModelStatus[] {
    const now = this.clock.now();
    const out: ModelStatus[] = [];
    for (const [, entry] of this.#entries.entries()) {
      const state = this.isLoading(entry) ? 'loading' : now < entry.warmUntil ? 'warm' : 'cold';
      out.push(
        Object.freeze({
          host: entry.host,
          model: entry.model,
          state,
          expiresAt: state === 'warm' ? entry.warmUntil : undefined,
          loadingSince: entry.load?.startedAt,
          lastLoadMs: entry.lastLoadMs,
        }),
      );
    }
    return out;
  }
}
