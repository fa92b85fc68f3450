import { type Clock, realClock } from '@bulwark/core';
import { LruMap } from '@bulwark/core/internal';
import type { TokenReservation, TokenReserveResult, TokenStore } from './types.js';

interface Charge {
  at: number;
  tokens: number;
}

/**
 * A sliding window of charges per key, in this process. Old charges are dropped as the window moves,
 * so the bookkeeping grows with the calls of one window, not with traffic over time.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #clock: Clock;
  readonly #windows: LruMap<string, Charge[]>;

  constructor(options: { clock?: Clock; maxKeys?: number } = {}) {
    this.#clock = options.clock ?? realClock;
    this.#windows = new LruMap(options.maxKeys ?? 1_000);
  }

  /** Tokens charged to `key` within the last `windowMs`. */
  used(key: string, windowMs: number): number {
    const charges = this.#windows.peek(key);
    if (!charges) return 0;
    this.#trim(charges, windowMs);
    return charges.reduce((sum, charge) => sum + charge.tokens, 0);
  }

  reserve(
    key: string,
    tokens: number,
    limit: { readonly tokensPerWindow: number; readonly windowMs: number },
  ): Promise<TokenReserveResult> {
    return Promise.resolve(this.reserveNow(key, tokens, limit));
  }

  /** {@link MemoryTokenStore.reserve}, answered synchronously. */
  reserveNow(
    key: string,
    tokens: number,
    limit: { readonly tokensPerWindow: number; readonly windowMs: number },
  ): TokenReserveResult {
    const charges = this.#windows.getOrCreate(key, () => []);
    const now = this.#clock.now();
    this.#trim(charges, limit.windowMs);
    let used = charges.reduce((sum, charge) => sum + charge.tokens, 0);
    if (used + tokens > limit.tokensPerWindow) {
      // The oldest charges leave first: wait until enough of them have.
      let retryAfterMs = limit.windowMs;
      for (const charge of charges) {
        used -= charge.tokens;
        if (used + tokens <= limit.tokensPerWindow) {
          retryAfterMs = charge.at + limit.windowMs - now;
          break;
        }
      }
      return { retryAfterMs: Math.max(1, retryAfterMs) };
    }
    const charge: Charge = { at: now, tokens };
    charges.push(charge);
    let settled = false;
    const reservation: TokenReservation = {
      settle: (actual) => {
        if (settled) return;
        settled = true;
        charge.tokens = actual;
      },
    };
    return { reservation };
  }

  #trim(charges: Charge[], windowMs: number): void {
    const oldest = this.#clock.now() - windowMs;
    let drop = 0;
    while (drop < charges.length && (charges[drop] as Charge).at <= oldest) drop++;
    if (drop > 0) charges.splice(0, drop);
  }
}

/** A {@link TokenStore} in this process: the default of `tokenRateLimit()`. */
export function memoryTokenStore(options: { clock?: Clock; maxKeys?: number } = {}): MemoryTokenStore {
  return new MemoryTokenStore(options);
}
