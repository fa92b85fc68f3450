/**
 * `@bulwark/ollama/internal`: what the `bulwark` umbrella and the tests share with this package
 * (call timeout checks, host parsing, the NDJSON line reader). Not part of the public API: any
 * release may change it. Import from `@bulwark/ollama` instead.
 */
export { MIN_TIMEOUT_MS, resolveCallTimeout, timeoutNumber } from './call-timeout.js';
export { resolveHost } from './host.js';
export { LineReader } from './line-reader.js';
