import { getEventListeners } from 'node:events';
import { inspect } from 'node:util';
import { expect, vi } from 'vitest';

/** Resource kinds that a finished call must not leave behind. */
const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'] as const;

function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

interface Tracked {
  timer: NodeJS.Timeout;
  stack: string;
}

/**
 * Records the timers armed through Bulwark's clock (they are unref'd, so
 * `getActiveResourcesInfo()` does not list them) and the process's ref'd resources, so a test can
 * assert that a finished call left nothing behind.
 */
export function trackResources() {
  const before = counts();
  const tracked: Tracked[] = [];
  const original = globalThis.setTimeout;
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
    callback: (...args: unknown[]) => void,
    delay?: number,
    ...args: unknown[]
  ) => {
    const timer = original(callback, delay, ...args);
    const stack = new Error('timer').stack ?? '';
    if (stack.includes('/core/src/') || stack.includes('/ollama/src/')) tracked.push({ timer, stack });
    return timer;
  }) as typeof setTimeout);
  return {
    /** Waits until sockets, servers and timers are back to where they were, and our timers are cleared. */
    async expectReleased(signal?: AbortSignal): Promise<void> {
      spy.mockRestore();
      const check = () => {
        const now = counts();
        for (const kind of WATCHED) {
          expect(now[kind] ?? 0, `${kind}: ${JSON.stringify({ before, now })}`).toBeLessThanOrEqual(
            before[kind] ?? 0,
          );
        }
        const live = tracked.filter(
          (entry) => !(entry.timer as unknown as { _destroyed: boolean })._destroyed,
        );
        expect(live.map((entry) => entry.stack)).toEqual([]);
        if (signal) expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      };
      const deadline = Date.now() + 2_000;
      for (;;) {
        try {
          check();
          return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise<void>((resolve) => setTimeout(resolve, 10));
        }
      }
    },
  };
}

/** Everything an error shows: message, stack, own properties and causes, deeply. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) parts.push(current.message, current.stack ?? '');
    parts.push(inspect(current, { depth: 6, showHidden: true }));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
