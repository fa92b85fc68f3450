import { BulwarkError } from '@bulwark/core';

/** The code of {@link TokenLimitError}. */
export const TOKEN_LIMIT = 'ERR_BULWARK_TOKEN_LIMIT';

/**
 * A token rate limit refused a call: the tokens of the window plus this call's reservation would
 * exceed the limit. `retryAfterMs` says when enough tokens leave the window; a `retry()` outside the
 * limit waits that long (up to its `maxDelayMs`).
 */
export class TokenLimitError extends BulwarkError {
  readonly key: string;
  /** The tokens this call asked for. */
  readonly tokens: number;
  readonly tokensPerWindow: number;
  readonly windowMs: number;
  readonly retryAfterMs: number;

  constructor(options: {
    key: string;
    tokens: number;
    tokensPerWindow: number;
    windowMs: number;
    retryAfterMs: number;
  }) {
    super(
      `Token limit "${options.key}" reached: ${options.tokens} more tokens would exceed ${options.tokensPerWindow} per ${options.windowMs} ms (room again in ${Math.ceil(options.retryAfterMs)} ms)`,
      { code: TOKEN_LIMIT, retryable: true },
    );
    this.name = 'BulwarkTokenLimitError';
    this.key = options.key;
    this.tokens = options.tokens;
    this.tokensPerWindow = options.tokensPerWindow;
    this.windowMs = options.windowMs;
    this.retryAfterMs = options.retryAfterMs;
  }
}
