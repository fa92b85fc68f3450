export { TimeoutPolicy, timeout } from './timeout-policy.js';
export type { TimeoutEvent, TimeoutOptions } from './types.js';
