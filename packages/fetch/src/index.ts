export { classifyBodyFailure, classifyRequestFailure, isIdempotent } from './classify.js';
export { createFetch } from './create-fetch.js';
export type { BulwarkFetch, CreateFetchOptions, RequestInfo } from './types.js';
