import { BasePolicy, type Context, Emitter, InvalidOptionError, type KeyOption } from '@bulwark/core';
import {
  duration,
  func,
  integer,
  keyOption,
  object,
  resolveKey,
  validateOptions,
} from '@bulwark/core/internal';
import { memoryTokenStore } from './memory-token-store.js';
import { TokenLimitError } from './token-limit-error.js';
import type {
  TokenRateLimitOptions,
  TokenRejectedEvent,
  TokenReservedEvent,
  TokenSettledEvent,
  TokenStore,
} from './types.js';

export const DEFAULT_WINDOW_MS = 60_000;
export const DEFAULT_RESERVATION = 1_024;

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/** The request's `options.num_predict`, when it is a limit (Ollama's -1 and -2 mean none). */
export function numPredict(context: Context): number | undefined {
  return count(field(field(context.attributes.request, 'options'), 'num_predict'));
}

/** Ollama's `prompt_eval_count + eval_count` from a call's result, when it has them. */
export function ollamaUsage(result: unknown): number | undefined {
  const prompt = count(field(result, 'prompt_eval_count'));
  const output = count(field(result, 'eval_count'));
  return prompt === undefined && output === undefined ? undefined : (prompt ?? 0) + (output ?? 0);
}

/**
 * A token rate limit: tokens per window per key. Before a call it reserves an estimate (the
 * request's `num_predict`, or `defaultReservation`) and refuses the call when the window is full;
 * after the call it replaces the reservation with what the server reports.
 */
export class TokenRateLimitPolicy extends BasePolicy {
  readonly tokensPerWindow: number;
  readonly windowMs: number;
  readonly #key: KeyOption | undefined;
  readonly #reserve: (context: Context) => number;
  readonly #usage: (result: unknown, context: Context) => number | undefined;
  readonly #store: TokenStore;
  readonly #reserved = new Emitter<TokenReservedEvent>();
  readonly #settled = new Emitter<TokenSettledEvent>();
  readonly #rejected = new Emitter<TokenRejectedEvent>();
  /** Tokens were reserved for a call. */
  readonly onReserved = this.#reserved.event;
  /** A call ended and its charge was corrected to what it used. */
  readonly onSettled = this.#settled.event;
  /** A call was refused: the window was full. */
  readonly onRejected = this.#rejected.event;

  constructor(options: TokenRateLimitOptions) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError(
        'tokenRateLimit(): options with "tokensPerWindow" are required',
        'tokensPerWindow',
      );
    }
    validateOptions('tokenRateLimit()', options, {
      tokensPerWindow: integer(1),
      windowMs: duration(1),
      key: keyOption,
      reserve: func,
      defaultReservation: integer(0),
      usage: func,
      store: object,
    });
    if (options.tokensPerWindow === undefined) {
      throw new InvalidOptionError(
        'tokenRateLimit(): option "tokensPerWindow" is required',
        'tokensPerWindow',
      );
    }
    if (options.store !== undefined && typeof options.store.reserve !== 'function') {
      throw new InvalidOptionError('tokenRateLimit(): option "store" must have a reserve() method', 'store');
    }
    this.tokensPerWindow = options.tokensPerWindow;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.#key = options.key;
    const defaultReservation = options.defaultReservation ?? DEFAULT_RESERVATION;
    this.#reserve = options.reserve ?? ((context) => numPredict(context) ?? defaultReservation);
    this.#usage = options.usage ?? ollamaUsage;
    this.#store = options.store ?? memoryTokenStore();
  }

  async run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const key = resolveKey(this.#key, context);
    // A reservation above the whole limit could never fit: it takes the whole window instead.
    const asked = this.#reserve(context);
    const tokens = Math.min(this.tokensPerWindow, Number.isFinite(asked) && asked > 0 ? Math.ceil(asked) : 0);
    const limit = { tokensPerWindow: this.tokensPerWindow, windowMs: this.windowMs };
    const answer = await this.#store.reserve(key, tokens, limit);
    if (!('reservation' in answer)) {
      if (this.#rejected.size > 0)
        this.#rejected.emit({ key, tokens, retryAfterMs: answer.retryAfterMs, context });
      throw new TokenLimitError({ key, tokens, ...limit, retryAfterMs: answer.retryAfterMs });
    }
    if (this.#reserved.size > 0) this.#reserved.emit({ key, tokens, context });
    let used = tokens;
    try {
      const result = await next(context);
      used = this.#usage(result, context) ?? tokens;
      return result;
    } finally {
      answer.reservation.settle(used);
      if (this.#settled.size > 0) this.#settled.emit({ key, reserved: tokens, used, context });
    }
  }
}

/**
 * Limits the tokens (prompt + output) per window, per key: `tokensPerWindow: 100_000` with the
 * default `windowMs` is 100k tokens per minute.
 *
 * @example
 * const limit = tokenRateLimit({ key: 'model', tokensPerWindow: 200_000 });
 */
export function tokenRateLimit(options: TokenRateLimitOptions): TokenRateLimitPolicy {
  return new TokenRateLimitPolicy(options);
}
