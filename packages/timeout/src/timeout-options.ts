import { type Clock, InvalidOptionError, type PhaseBudgets } from '@bulwark/core';
import { budget, clockOption, type OptionSchema, validateOptions } from '@bulwark/core/internal';
import type { TimeoutOptions } from './types.js';

const positiveDuration = budget(1);

const schema: OptionSchema<TimeoutOptions> = {
  attemptMs: positiveDuration,
  totalMs: positiveDuration,
  connectMs: positiveDuration,
  headersMs: positiveDuration,
  firstTokenMs: positiveDuration,
  idleMs: positiveDuration,
  clock: clockOption,
};

const budgetKeys = ['connectMs', 'headersMs', 'firstTokenMs', 'idleMs'] as const;

/** The options of `timeout()`, checked and resolved. */
export interface ResolvedTimeoutOptions {
  limitMs: number | undefined;
  /** `undefined` when the phase follows placement (`timeout(ms)`). */
  phase: 'attempt' | 'total' | undefined;
  budgets: Readonly<PhaseBudgets> | undefined;
  clock: Clock | undefined;
}

/** Validates the argument of `timeout()`, throwing an `InvalidOptionError` that names the option. */
export function resolveTimeoutOptions(options: number | TimeoutOptions): ResolvedTimeoutOptions {
  if (typeof options === 'number') {
    validateOptions('timeout()', { ms: options }, { ms: positiveDuration });
    return { limitMs: finite(options), phase: undefined, budgets: undefined, clock: undefined };
  }
  if (options === undefined) {
    throw new InvalidOptionError(
      'timeout(): give a limit in milliseconds or an options object with attemptMs, totalMs or a phase budget',
      '(options)',
    );
  }
  validateOptions('timeout()', options, schema);
  const { attemptMs, totalMs } = options;
  if (attemptMs !== undefined && totalMs !== undefined && attemptMs !== Infinity && totalMs !== Infinity) {
    throw new InvalidOptionError(
      `timeout(): give "attemptMs" or "totalMs", not both (got attemptMs ${attemptMs} and totalMs ${totalMs}); use two timeout() policies, one outside retry() and one inside`,
      'totalMs',
    );
  }
  let budgets: PhaseBudgets | undefined;
  for (const key of budgetKeys) {
    const value = options[key];
    if (value === undefined) continue;
    budgets ??= {};
    budgets[key] = value;
  }
  const limitMs = finite(attemptMs) ?? finite(totalMs);
  if (attemptMs === undefined && totalMs === undefined && budgets === undefined) {
    throw new InvalidOptionError(
      `timeout(): no budget given; set one of attemptMs, totalMs, ${budgetKeys.join(', ')}`,
      '(options)',
    );
  }
  return {
    limitMs,
    phase: finite(attemptMs) !== undefined ? 'attempt' : finite(totalMs) !== undefined ? 'total' : undefined,
    budgets: budgets && Object.freeze(budgets),
    clock: options.clock,
  };
}

/** `Infinity` means no limit: no timer and no deadline. */
function finite(value: number | undefined): number | undefined {
  return value === Number.POSITIVE_INFINITY ? undefined : value;
}
