/**
 * `@bulwark/core/internal`: the plumbing Bulwark's own packages share (option checks, signals,
 * keyed state, the transport's attempt guard and failure classification). Not part of the public
 * API: any release may change it. Import from `@bulwark/core` instead.
 */
export { AttemptGuard, finalGuardFailure } from './attempt-guard.js';
export { Cancel } from './cancel.js';
export { cancelOf, withCancel } from './context.js';
export { hostAttribute, targetText } from './errors.js';
export { DEFAULT_KEY, LruMap, resolveKey } from './keyed.js';
export { classifyBodyFailure, classifyRequestFailure, isIdempotent } from './network-errors.js';
export type { OptionCheck, OptionSchema } from './options.js';
export {
  anyOf,
  boolean,
  budget,
  clockOption,
  duration,
  func,
  integer,
  keyOption,
  MAX_TIMER_MS,
  numberIn,
  object,
  oneOf,
  string,
  validateOptions,
} from './options.js';
export { serverMessage } from './server-message.js';
export type { LinkedController } from './signal.js';
export { assertSignal, describe, linkSignal, sleep, whenAborted } from './signal.js';
export type { StreamLifetimeState } from './stream-lifetime.js';
export { StreamLifetime } from './stream-lifetime.js';
export type { PipelineLimits } from './wrap.js';
export { pipelineLimits } from './wrap.js';
