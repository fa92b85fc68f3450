import type { Disposable, Event } from './types.js';

/**
 * A small synchronous event emitter. A listener that throws does not disturb the policy that
 * emitted: its error is rethrown on a later turn, where it surfaces as an uncaught exception.
 */
export class Emitter<T> {
  #listeners: Array<(value: T) => void> = [];

  /** Subscribes a listener; `dispose()` the result to unsubscribe. */
  readonly event: Event<T> = (listener) => {
    this.#listeners = [...this.#listeners, listener];
    let disposed = false;
    const handle: Disposable = {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.#listeners = this.#listeners.filter((l) => l !== listener);
      },
    };
    return handle;
  };

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.length;
  }

  /** Calls every listener with `value`. */
  emit(value: T): void {
    callEach(this.#listeners, value);
  }
}

/**
 * Calls each listener with `value`; one that throws does not stop the others or disturb the caller
 * (its error is rethrown on a later turn, as an uncaught exception).
 */
export function callEach<T>(listeners: readonly ((value: T) => void)[], value: T): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
