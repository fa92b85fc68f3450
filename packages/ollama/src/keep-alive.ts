import { InvalidOptionError } from '@bulwark/core';
import { describe } from '@bulwark/core/internal';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const GO_DURATION = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * A `keep_alive` in milliseconds, as Ollama reads it: a number is seconds, a string a Go duration
 * (`"5m"`, `"1h30m"`, `"0"`); a negative value means forever (`Infinity`).
 * `undefined` for a value Ollama would reject, so the caller can let the server answer it.
 */
export function keepAliveMs(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    return value < 0 ? Number.POSITIVE_INFINITY : value * 1_000;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  // Go's ParseDuration takes a bare number only when it is zero ("10" is a 400).
  if (/^[-+]?\d+$/.test(text)) return Number(text) === 0 ? 0 : undefined;
  if (!GO_DURATION.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(PART)) total += Number(match[1]) * (UNIT_MS[match[2] as string] ?? 0);
  return text.startsWith('-') ? Number.POSITIVE_INFINITY : total;
}

/** Checks a `keepAlive` given to `load()`: a number of seconds or a Go duration string. */
export function checkKeepAlive(where: string, value: unknown): void {
  if (value !== undefined && keepAliveMs(value) === undefined) {
    throw new InvalidOptionError(
      `${where}: option "keepAlive" must be a number of seconds or a Go duration such as "5m", got ${describe(value)}`,
      'keepAlive',
    );
  }
}
