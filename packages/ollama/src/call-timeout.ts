import { type CallTimeout, InvalidOptionError, realClock, TimeoutError } from '@bulwark/core';
import {
  budget,
  type LinkedController,
  linkSignal,
  type OptionCheck,
  type OptionSchema,
  validateOptions,
} from '@bulwark/core/internal';

/** The smallest `timeout: N` accepted: below it the number is almost surely seconds typed as milliseconds. */
export const MIN_TIMEOUT_MS = 1_000;

const callTimeoutSchema = {
  totalMs: budget(1),
  attemptMs: budget(1),
  connectMs: budget(1),
  headersMs: budget(1),
  firstTokenMs: budget(1),
  idleMs: budget(1),
} satisfies OptionSchema<CallTimeout>;

/**
 * The check of a `timeout` given as one number: milliseconds from {@link MIN_TIMEOUT_MS} to
 * 2,147,483,647, or `Infinity`. A smaller number is refused, naming the seconds it probably meant.
 */
export const timeoutNumber: OptionCheck = (value) => {
  const message = budget(1)(value);
  if (message !== undefined) return message;
  return (value as number) < MIN_TIMEOUT_MS
    ? `is in milliseconds and must be at least ${MIN_TIMEOUT_MS} (for ${value} seconds write ${(value as number) * 1000})`
    : undefined;
};

/**
 * The budgets a `timeout` stands for. One number means what the Python client's `timeout=` means:
 * the limit on connecting and on each wait for the server (the response's first chunk, and the
 * silence between two chunks), so `connectMs`, `headersMs`, `firstTokenMs` and `idleMs` take it.
 * An object gives budgets by name; `undefined` entries are dropped (they mean "the default").
 * Throws an `InvalidOptionError` naming the option and the value.
 */
export function resolveCallTimeout(where: string, value: unknown): CallTimeout | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    const message = timeoutNumber(value);
    if (message !== undefined) {
      throw new InvalidOptionError(`${where}: option "timeout" ${message}, got ${value}`, 'timeout');
    }
    return { connectMs: value, headersMs: value, firstTokenMs: value, idleMs: value };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(
      `${where}: option "timeout" must be milliseconds or an object of budgets, got ${typeof value}`,
      'timeout',
    );
  }
  validateOptions(`${where}: option "timeout"`, value, callTimeoutSchema);
  const budgets: CallTimeout = {};
  for (const [key, ms] of Object.entries(value) as [keyof CallTimeout, number | undefined][]) {
    if (ms !== undefined) budgets[key] = ms;
  }
  return budgets;
}

/**
 * Enforces a caller's `totalMs` over one call, whatever the client's policy holds: the returned
 * signal aborts with a `TimeoutError` (phase `total`) when it runs out. Its timer is unref'd.
 */
export function callDeadline(
  signal: AbortSignal | undefined,
  totalMs: number | undefined,
): LinkedController & { clear(): void } {
  const linked = linkSignal(signal);
  if (totalMs === undefined || totalMs === Number.POSITIVE_INFINITY) {
    return { ...linked, signal: linked.signal, clear: () => linked.dispose() };
  }
  const started = realClock.now();
  const timer = realClock.setTimeout(() => {
    linked.abort(
      new TimeoutError({ phase: 'total', timeoutMs: totalMs, elapsedMs: realClock.now() - started }),
    );
  }, totalMs);
  return {
    signal: linked.signal,
    abort: linked.abort,
    dispose: linked.dispose,
    clear() {
      timer.clear();
      linked.dispose();
    },
  };
}
