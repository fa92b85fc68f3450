export { DEFAULT_HOST } from './host.js';
export { DEFAULT_MODEL_STATE, Ollama } from './ollama.js';
export type { ProgressTrackerOptions, TransferProgress } from './progress.js';
export { ProgressTracker, trackProgress } from './progress.js';
export type * from './types.js';
