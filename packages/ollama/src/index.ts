export { MIN_TIMEOUT_MS, resolveCallTimeout, timeoutNumber } from './call-timeout.js';
export { DEFAULT_HOST, resolveHost } from './host.js';
export { LineReader } from './line-reader.js';
export { Ollama } from './ollama.js';
export { DEFAULT_BUDGETS } from './transport.js';
export type * from './types.js';
