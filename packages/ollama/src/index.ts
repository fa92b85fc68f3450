export { MIN_TIMEOUT_MS, resolveCallTimeout, timeoutNumber } from './call-timeout.js';
export { DEFAULT_HOST, resolveHost } from './host.js';
export { LineReader } from './line-reader.js';
export { DEFAULT_MODEL_STATE, Ollama } from './ollama.js';
export type { ProgressTrackerOptions, TransferProgress } from './progress.js';
export { ProgressTracker, trackProgress } from './progress.js';
export type * from './types.js';
