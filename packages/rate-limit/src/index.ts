export { MemoryTokenStore, memoryTokenStore } from './memory-token-store.js';
export { TOKEN_LIMIT, TokenLimitError } from './token-limit-error.js';
export {
  DEFAULT_RESERVATION,
  DEFAULT_WINDOW_MS,
  numPredict,
  ollamaUsage,
  TokenRateLimitPolicy,
  tokenRateLimit,
} from './token-rate-limit-policy.js';
export type {
  TokenRateLimitOptions,
  TokenRejectedEvent,
  TokenReservation,
  TokenReservedEvent,
  TokenReserveResult,
  TokenSettledEvent,
  TokenStore,
} from './types.js';
