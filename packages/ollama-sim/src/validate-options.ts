/** Thrown for an unknown option or a bad option value; names both. */
export class SimOptionError extends Error {
  override readonly name = 'SimOptionError';
  /** A stable code, as Bulwark's own errors have. */
  readonly code = 'ERR_BULWARK_SIM_INVALID_OPTION';
  /** The option at fault, e.g. `"maxQueue"` or `"faults[2].afterChunks"`. */
  readonly option: string;
  /** The value given. */
  readonly value: unknown;

  constructor(message: string, option: string, value: unknown) {
    super(message);
    this.option = option;
    this.value = value;
  }
}

/** Checks one value; returns "must be …" or `undefined` when valid. */
export type Check = (value: unknown) => string | undefined;

/** Describes a value for an error message without dumping it. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (value instanceof RegExp) return String(value);
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

export const duration: Check = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? undefined
    : 'must be a finite number of milliseconds >= 0';

/** A duration that may also be negative ("forever"). */
export const signedDuration: Check = (value) =>
  typeof value === 'number' && !Number.isNaN(value) ? undefined : 'must be a number of milliseconds';

export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
      ? undefined
      : max === Number.MAX_SAFE_INTEGER
        ? `must be a whole number >= ${min}`
        : `must be a whole number from ${min} to ${max}`;

/** A whole number >= min, or Infinity. */
export const count =
  (min: number): Check =>
  (value) =>
    value === Number.POSITIVE_INFINITY || integer(min)(value) === undefined
      ? undefined
      : `must be a whole number >= ${min} or Infinity`;

export const boolean: Check = (value) => (typeof value === 'boolean' ? undefined : 'must be true or false');
export const string: Check = (value) => (typeof value === 'string' ? undefined : 'must be a string');
export const nonEmptyString: Check = (value) =>
  typeof value === 'string' && value.length > 0 ? undefined : 'must be a non-empty string';
export const func: Check = (value) => (typeof value === 'function' ? undefined : 'must be a function');
export const regExp: Check = (value) => (value instanceof RegExp ? undefined : 'must be a RegExp');
export const plainObject: Check = (value) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RegExp)
    ? undefined
    : 'must be an object';

export const oneOf =
  (...values: readonly unknown[]): Check =>
  (value) =>
    values.includes(value) ? undefined : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;

export const anyOf =
  (...checks: Check[]): Check =>
  (value) => {
    const messages: string[] = [];
    for (const check of checks) {
      const message = check(value);
      if (message === undefined) return undefined;
      messages.push(message.replace(/^must be /, ''));
    }
    return `must be ${messages.join(' or ')}`;
  };

/** `n` or `[min, max]` whole numbers >= min. */
export const tokenRange: Check = (value) => {
  if (integer(0)(value) === undefined) return undefined;
  if (
    Array.isArray(value) &&
    value.length === 2 &&
    integer(0)(value[0]) === undefined &&
    integer(0)(value[1]) === undefined &&
    value[0] <= value[1]
  ) {
    return undefined;
  }
  return 'must be a whole number >= 0 or a [min, max] pair of them';
};

/** A string of text headers. */
export const headerRecord: Check = (value) => {
  if (plainObject(value) !== undefined) return 'must be an object of header strings';
  for (const [key, item] of Object.entries(value as object)) {
    if (typeof item !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      return 'must be an object of header strings';
    }
  }
  return undefined;
};

/**
 * Validates an options object eagerly: unknown keys and bad values throw a {@link SimOptionError}
 * naming the option and the value. `undefined` values mean "the default".
 */
export function validateOptions(
  where: string,
  options: unknown,
  schema: Readonly<Record<string, Check>>,
  prefix = '',
): void {
  if (options === undefined) return;
  if (plainObject(options) !== undefined) {
    throw new SimOptionError(
      `${where}: ${prefix || 'options'} must be an object, got ${describeValue(options)}`,
      prefix || '(options)',
      options,
    );
  }
  for (const [key, value] of Object.entries(options as object)) {
    const check = schema[key];
    const option = `${prefix}${key}`;
    if (!check) {
      const known = Object.keys(schema).join(', ');
      throw new SimOptionError(
        `${where}: unknown option "${option}" (known options: ${known})`,
        option,
        value,
      );
    }
    if (value === undefined) continue;
    const message = check(value);
    if (message !== undefined) {
      throw new SimOptionError(
        `${where}: option "${option}" ${message}, got ${describeValue(value)}`,
        option,
        value,
      );
    }
  }
}
