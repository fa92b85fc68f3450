import { callEach } from './events.js';
import { neverAborted } from './never-aborted.js';

type Listener = () => void;

const noop: Listener = () => {};

/**
 * Calls `listener` once when `signal` aborts; the returned function stops listening. A signal that
 * can never abort (a call made without one) costs nothing: no listener is added.
 */
export function whenAborted(signal: AbortSignal, listener: Listener): Listener {
  if (signal === neverAborted || signal.aborted) return noop;
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

/**
 * A call's cancellation, as the policies of one call pass it inward: aborted once, with a reason,
 * followed by listeners. It makes an `AbortSignal` only when someone asks for one
 * (`context.signal`): on Node 20 an `AbortController` and the first listener on its signal cost
 * about 5 µs each, more than the rest of a policy, and most calls never need a real signal.
 *
 * A cancel either follows a caller's `AbortSignal` (`Cancel.of`), and is then that signal, or is a
 * policy's own, linked to the cancel outside it (`link`), aborted by the policy (`abort`) or by the
 * outer one. Listeners run in the order they were added; one that throws does not stop the others.
 */
export class Cancel {
  /** The cancel of a call made without a signal: it never aborts, and listening to it is free. */
  static readonly never: Cancel = new Cancel(neverAborted);

  /** The caller's signal this cancel is, if any. */
  readonly #source: AbortSignal | undefined;
  #aborted = false;
  #reason: unknown;
  #listeners: Listener[] | undefined;
  #controller: AbortController | undefined;
  /** Stops following the outer cancel. */
  #unlink: Listener = noop;

  private constructor(source: AbortSignal | undefined) {
    this.#source = source;
  }

  /** The cancel that is `signal` (or {@link Cancel.never} for none). */
  static of(signal: AbortSignal | undefined): Cancel {
    return signal === undefined || signal === neverAborted ? Cancel.never : new Cancel(signal);
  }

  /**
   * A cancel that aborts with this one's reason when this one aborts (after `onOuterAbort`, if
   * given, is called with that reason), and can be aborted on its own. {@link Cancel.dispose}
   * stops following this one.
   */
  link(onOuterAbort?: (reason: unknown) => void): Cancel {
    const inner = new Cancel(undefined);
    if (this.aborted) {
      inner.#aborted = true;
      inner.#reason = this.reason;
      return inner;
    }
    inner.#unlink = this.onAbort(() => {
      const reason = this.reason;
      onOuterAbort?.(reason);
      inner.abort(reason);
    });
    return inner;
  }

  get aborted(): boolean {
    return this.#source === undefined ? this.#aborted : this.#source.aborted;
  }

  get reason(): unknown {
    return this.#source === undefined ? this.#reason : this.#source.reason;
  }

  /** This cancel as an `AbortSignal`: the caller's own signal, or one made now and kept. */
  get signal(): AbortSignal {
    if (this.#source !== undefined) return this.#source;
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Calls `listener` once when this cancel aborts; the returned function stops listening. Nothing
   * is added when it already aborted or never can.
   */
  onAbort(listener: Listener): Listener {
    if (this.#source !== undefined) return whenAborted(this.#source, listener);
    if (this.#aborted) return noop;
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
    return () => {
      const listeners = this.#listeners;
      if (listeners === undefined) return;
      const index = listeners.indexOf(listener);
      if (index >= 0) listeners.splice(index, 1);
    };
  }

  /** Aborts with `reason` (once; a later call does nothing) and stops following the outer cancel. */
  abort(reason: unknown): void {
    if (this.#source !== undefined)
      throw new Error('a cancel that follows a caller signal cannot be aborted');
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.dispose();
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) callEach<void>(listeners, undefined);
  }

  /** Stops following the outer cancel. Call on every exit path of the policy that linked it. */
  dispose(): void {
    this.#unlink();
    this.#unlink = noop;
  }
}
