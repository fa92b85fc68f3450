import type { Context, KeyOption } from '@bulwark/core';

/** Options of `tokenRateLimit()`. */
export interface TokenRateLimitOptions {
  /** Tokens (prompt + output) allowed per key in each `windowMs`. */
  tokensPerWindow: number;
  /** The sliding window the limit applies to. @default 60_000 (tokens per minute) */
  windowMs?: number;
  /** One limit per key: `'model'`, `'host'`, `'host+model'`, `'operation'` or a function of the context (a caller's id). @default one limit for every call */
  key?: KeyOption;
  /**
   * The tokens reserved before a call. The default reads the request's `options.num_predict` (the
   * most output the call may produce) and falls back to `defaultReservation`.
   * @default the request's `num_predict`, else `defaultReservation`
   */
  reserve?: (context: Context) => number;
  /** The reservation of a call whose request sets no `num_predict`. @default 1_024 */
  defaultReservation?: number;
  /**
   * The tokens a call really used, from its result. The default reads Ollama's
   * `prompt_eval_count + eval_count` (what `@bulwark/ollama` returns, streamed or not); `undefined`
   * keeps the reservation.
   * @default (result) => result.prompt_eval_count + result.eval_count
   */
  usage?: (result: unknown, context: Context) => number | undefined;
  /**
   * Where the window lives. With `@bulwark/redis`'s `redisTokenStore()` the limit holds across every
   * process sharing the Redis.
   * @default a window kept in this process (`memoryTokenStore()`)
   */
  store?: TokenStore;
}

/** A charge taken by {@link TokenStore.reserve}, corrected once the call's real usage is known. */
export interface TokenReservation {
  /** Replaces the reserved tokens with `tokens` (0 gives them all back). Called once; never throws. */
  settle(tokens: number): void;
}

/** What {@link TokenStore.reserve} answers. */
export type TokenReserveResult =
  | { readonly reservation: TokenReservation }
  /** Refused: the window holds too many tokens; enough expire in `retryAfterMs`. */
  | { readonly retryAfterMs: number };

/**
 * Where a token rate limit keeps its window (charges with their time, per key), so that one limit
 * can hold across processes.
 */
export interface TokenStore {
  /**
   * Charges `tokens` to `key` if the charges of the last `windowMs` plus `tokens` stay within
   * `tokensPerWindow`. Rejects to fail the call (a store that fails closed).
   */
  reserve(
    key: string,
    tokens: number,
    limit: { readonly tokensPerWindow: number; readonly windowMs: number },
  ): Promise<TokenReserveResult>;
}

export interface TokenReservedEvent {
  readonly key: string;
  readonly tokens: number;
  readonly context: Context;
}

export interface TokenSettledEvent {
  readonly key: string;
  /** What was reserved before the call. */
  readonly reserved: number;
  /** What the call used (the reservation when the result did not say). */
  readonly used: number;
  readonly context: Context;
}

export interface TokenRejectedEvent {
  readonly key: string;
  readonly tokens: number;
  readonly retryAfterMs: number;
  readonly context: Context;
}
