import {
  BulwarkError,
  type Clock,
  type Context,
  InvalidOptionError,
  type KeyOption,
  realClock,
} from '@bulwark/core';
import {
  anyOf,
  boolean,
  clockOption,
  duration,
  func,
  integer,
  keyOption,
  numberIn,
  type OptionCheck,
  type OptionSchema,
  object,
  validateOptions,
} from '@bulwark/core/internal';
import { decorrelatedJitterGenerator, ExponentialBackoff, type IBackoffFactory } from 'cockatiel';
import type {
  RetryBackoffContext,
  RetryBudgetLimits,
  RetryBudgetOptions,
  RetryBudgetStore,
  RetryOptions,
} from './types.js';

/** Attempts in total, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** The scale of the default backoff's first wait. */
export const DEFAULT_INITIAL_DELAY_MS = 250;
/** The longest wait before a retry. */
export const DEFAULT_MAX_DELAY_MS = 10_000;
/** The default retry budget. */
export const DEFAULT_BUDGET: RetryBudgetLimits = Object.freeze({
  ratio: 0.2,
  windowMs: 10_000,
  minRetries: 10,
});
const DEFAULT_MAX_KEYS = 1_000;

const backoffCheck: OptionCheck = (value) =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as IBackoffFactory<unknown>).next === 'function'
    ? undefined
    : 'must be a backoff (an object with next(), such as a cockatiel ExponentialBackoff)';

const schema: OptionSchema<RetryOptions> = {
  maxAttempts: integer(1),
  backoff: backoffCheck,
  initialDelayMs: duration(0),
  maxDelayMs: duration(0),
  retryOn: func,
  budget: anyOf(boolean, object),
  key: keyOption,
  maxKeys: integer(1),
  clock: clockOption,
};

const budgetSchema: OptionSchema<RetryBudgetOptions> = {
  ratio: numberIn(0, 1),
  windowMs: duration(10),
  minRetries: integer(0),
  store: (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RetryBudgetStore).recordCall === 'function' &&
    typeof (value as RetryBudgetStore).tryRetry === 'function'
      ? undefined
      : 'must be a retry budget store (an object with recordCall() and tryRetry())',
};

/** The default `retryOn`: the error's own `retryable` flag. */
export function isRetryable(error: unknown): boolean {
  return BulwarkError.is(error) && error.retryable;
}

export interface ResolvedRetryOptions {
  maxAttempts: number;
  backoff: IBackoffFactory<RetryBackoffContext>;
  maxDelayMs: number;
  retryOn: (error: unknown, context: Context) => boolean;
  budget: RetryBudgetLimits | undefined;
  budgetStore: RetryBudgetStore | undefined;
  key: KeyOption | undefined;
  maxKeys: number;
  clock: Clock;
}

/** Validates the options of `retry()`, throwing an `InvalidOptionError` that names the option. */
export function resolveRetryOptions(options: RetryOptions = {}): ResolvedRetryOptions {
  validateOptions('retry()', options, schema);
  if (options.backoff !== undefined && options.initialDelayMs !== undefined) {
    throw new InvalidOptionError(
      'retry(): "initialDelayMs" shapes the default backoff and cannot be given with "backoff"',
      'initialDelayMs',
    );
  }
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  // A cap below the default first wait lowers that wait with it; only an explicit conflict is an error.
  const initialDelayMs = options.initialDelayMs ?? Math.min(DEFAULT_INITIAL_DELAY_MS, maxDelayMs);
  if (initialDelayMs > maxDelayMs) {
    throw new InvalidOptionError(
      `retry(): option "maxDelayMs" (${maxDelayMs}) must not be below "initialDelayMs" (${initialDelayMs})`,
      'maxDelayMs',
    );
  }
  let budget: RetryBudgetLimits | undefined;
  let budgetStore: RetryBudgetStore | undefined;
  if (options.budget === undefined || options.budget === true) budget = DEFAULT_BUDGET;
  else if (options.budget !== false) {
    try {
      validateOptions('retry() budget', options.budget, budgetSchema);
    } catch (error) {
      if (error instanceof InvalidOptionError) {
        throw new InvalidOptionError(error.message, `budget.${error.option}`);
      }
      throw error;
    }
    const { store, ...limits } = options.budget;
    budget = { ...DEFAULT_BUDGET, ...withoutUndefined(limits) };
    budgetStore = store;
  }
  if (options.key !== undefined && budget === undefined) {
    throw new InvalidOptionError(
      'retry(): option "key" selects a retry budget and has no effect with "budget: false"',
      'key',
    );
  }
  return {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    backoff:
      options.backoff ??
      new ExponentialBackoff({
        generator: decorrelatedJitterGenerator,
        initialDelay: initialDelayMs,
        maxDelay: maxDelayMs,
      }),
    maxDelayMs,
    retryOn: options.retryOn ?? isRetryable,
    budget,
    budgetStore,
    key: options.key,
    maxKeys: options.maxKeys ?? DEFAULT_MAX_KEYS,
    clock: options.clock ?? realClock,
  };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, entry] of Object.entries(value))
    if (entry !== undefined) (out as Record<string, unknown>)[key] = entry;
  return out;
}
