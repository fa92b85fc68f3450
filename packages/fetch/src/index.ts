export { createFetch } from './create-fetch.js';
export type { BulwarkFetch, CreateFetchOptions, RequestInfo } from './types.js';
