import { Cancel } from './cancel.js';
import { InvalidOptionError } from './errors.js';
import { neverAborted } from './never-aborted.js';
import type { Clock } from './types.js';

/** A controller whose signal also follows a parent signal, with the parent's own reason. */
export interface LinkedController {
  readonly signal: AbortSignal;
  /** Aborts this signal (not the parent) with `reason`. */
  abort(reason: unknown): void;
  /** Stops following the parent. Call on every exit path. */
  dispose(): void;
}

/**
 * Links a new controller to `parent`: when the parent aborts, the child aborts with the parent's
 * reason, untouched. Unlike `AbortSignal.any`, the link is removed by `dispose()`, so a long-lived
 * parent does not accumulate listeners. `onParentAbort`, if given, is called with the parent's
 * reason just before the child aborts: cheaper than a listener on the child, which is a new
 * `EventTarget` registration per call.
 */
export function linkSignal(
  parent: AbortSignal | undefined,
  onParentAbort?: (reason: unknown) => void,
): LinkedController {
  const controller = new AbortController();
  if (!parent || parent === neverAborted) {
    return { signal: controller.signal, abort: (reason) => controller.abort(reason), dispose: () => {} };
  }
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, abort: () => {}, dispose: () => {} };
  }
  const onAbort = () => {
    onParentAbort?.(parent.reason);
    controller.abort(parent.reason);
  };
  parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    abort(reason) {
      parent.removeEventListener('abort', onAbort);
      controller.abort(reason);
    },
    dispose() {
      parent.removeEventListener('abort', onAbort);
    },
  };
}

export { whenAborted } from './cancel.js';

/**
 * Waits `ms` on `clock`; rejects at once with the reason if `signal` (or `cancel`) aborts first.
 * The timer and the listener are removed on every path.
 */
export function sleep(
  ms: number,
  options: { clock: Clock; signal?: AbortSignal | undefined; cancel?: Cancel | undefined },
): Promise<void> {
  const { clock } = options;
  const cancel = options.cancel ?? Cancel.of(options.signal);
  if (cancel.aborted) return Promise.reject(cancel.reason);
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      stopListening();
      resolve();
    }, ms);
    const stopListening = cancel.onAbort(() => {
      timer.clear();
      reject(cancel.reason);
    });
  });
}

/** Rejects with the signal's reason as soon as it aborts; resolves with `promise` otherwise. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  if (signal === neverAborted) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Throws an {@link InvalidOptionError} unless `value` is an `AbortSignal` (or undefined). */
export function assertSignal(value: unknown, where: string): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new InvalidOptionError(
      `${where}: option "signal" must be an AbortSignal, got ${describe(value)}`,
      'signal',
    );
  }
}

/** A short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'undefined') return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object`;
}
