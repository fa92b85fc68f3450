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
    const listeners = this.#listeners;
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
}
