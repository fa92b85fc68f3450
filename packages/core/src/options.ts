import { InvalidOptionError } from './errors.js';
import { describe } from './signal.js';
import type { Clock } from './types.js';

/** Checks one option value; returns an error message fragment ("must be …") or `undefined` if valid. */
export type OptionCheck = (value: unknown) => string | undefined;

/** A finite number of milliseconds, at least `min` (default 0). */
export const duration =
  (min = 0): OptionCheck =>
  (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min
      ? undefined
      : `must be a finite number of milliseconds >= ${min}`;

/**
 * The longest delay a Node timer holds: 2,147,483,647 ms (about 24.8 days). A longer one fires
 * after 1 ms with a `TimeoutOverflowWarning`, so budgets above it are refused.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A time budget: milliseconds from `min` (default 1) to {@link MAX_TIMER_MS}, or `Infinity` for
 * "no limit". Every Bulwark budget (`…Ms`) is checked with this.
 */
export const budget =
  (min = 1): OptionCheck =>
  (value) =>
    value === Number.POSITIVE_INFINITY ||
    (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= MAX_TIMER_MS)
      ? undefined
      : `must be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, or Infinity for no limit`;

/** A whole number, at least `min`. */
export const integer =
  (min: number): OptionCheck =>
  (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min
      ? undefined
      : `must be a whole number >= ${min}`;

/** A finite number within `[min, max]`. */
export const numberIn =
  (min: number, max: number): OptionCheck =>
  (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? undefined
      : `must be a number from ${min} to ${max}`;

export const boolean: OptionCheck = (value) =>
  typeof value === 'boolean' ? undefined : 'must be true or false';
export const func: OptionCheck = (value) => (typeof value === 'function' ? undefined : 'must be a function');
export const string: OptionCheck = (value) => (typeof value === 'string' ? undefined : 'must be a string');
export const object: OptionCheck = (value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'must be an object';

/** One of the given literal values. */
export const oneOf =
  (...values: readonly unknown[]): OptionCheck =>
  (value) =>
    values.includes(value) ? undefined : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;

/** The first check that passes wins; otherwise the messages are joined. */
export const anyOf =
  (...checks: OptionCheck[]): OptionCheck =>
  (value) => {
    const messages: string[] = [];
    for (const check of checks) {
      const message = check(value);
      if (message === undefined) return undefined;
      messages.push(message.replace(/^must be /, ''));
    }
    return `must be ${messages.join(' or ')}`;
  };

/** A `clock` option: a {@link Clock} (`now()` and `setTimeout()`), such as `realClock` or a `ManualClock`. */
export const clockOption: OptionCheck = (value) =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Clock).now === 'function' &&
  typeof (value as Clock).setTimeout === 'function'
    ? undefined
    : 'must be a Clock (an object with now() and setTimeout())';

/** The `key` option of keyed policies. */
export const keyOption: OptionCheck = anyOf(oneOf('model', 'host', 'host+model', 'operation'), func);

/**
 * The checks of an options type: exactly one per option, so the compiler rejects a schema that
 * misses an option of the type or checks one the type does not have.
 */
export type OptionSchema<T> = { readonly [K in keyof T]-?: OptionCheck };

/**
 * Validates an options object eagerly: unknown keys and bad values throw an
 * {@link InvalidOptionError} naming the option and the value. `undefined` values are allowed
 * (they mean "the default").
 */
export function validateOptions<T extends object>(
  where: string,
  options: T | undefined,
  schema: OptionSchema<T>,
): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(
      `${where}: options must be an object, got ${describe(options)}`,
      '(options)',
    );
  }
  const checks = schema as Readonly<Record<string, OptionCheck>>;
  for (const [key, value] of Object.entries(options)) {
    const check = Object.hasOwn(checks, key) ? checks[key] : undefined;
    if (!check) {
      const known = Object.keys(checks).join(', ');
      throw new InvalidOptionError(`${where}: unknown option "${key}" (known options: ${known})`, key);
    }
    if (value === undefined) continue;
    const message = check(value);
    if (message !== undefined) {
      throw new InvalidOptionError(`${where}: option "${key}" ${message}, got ${describe(value)}`, key);
    }
  }
}
