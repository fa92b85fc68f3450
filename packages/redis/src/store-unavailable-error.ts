import { BulwarkError } from '@bulwark/core';

/** The code of {@link StoreUnavailableError}. */
export const STORE_UNAVAILABLE = 'ERR_BULWARK_STORE_UNAVAILABLE';

/**
 * A store set to fail closed (`whenUnavailable: 'fail'`) could not reach Redis, so the call was
 * refused rather than run under limits this process cannot check. `cause` is what Redis did.
 */
export class StoreUnavailableError extends BulwarkError {
  /** Which store refused: `bulkhead`, `breaker`, `retry budget` or `token limit`. */
  readonly store: string;

  constructor(options: { store: string; cause?: unknown }) {
    super(`The Redis ${options.store} store is unavailable and fails closed: call refused`, {
      code: STORE_UNAVAILABLE,
      retryable: false,
      cause: options.cause,
    });
    this.name = 'BulwarkStoreUnavailableError';
    this.store = options.store;
  }
}
