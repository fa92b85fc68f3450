/**
 * The signal of a call made without one. It never aborts, so core's own code does not listen to
 * it. Every concurrent call shares it, so on Node it is also exempt from the listener-leak warning
 * (ten listeners), in case other code follows a context's signal without checking for it.
 */
export const neverAborted: AbortSignal = new AbortController().signal;

interface NodeEvents {
  setMaxListeners(count: number, ...targets: EventTarget[]): void;
}
const host = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
(host.process?.getBuiltinModule?.('node:events') as NodeEvents | undefined)?.setMaxListeners(0, neverAborted);
