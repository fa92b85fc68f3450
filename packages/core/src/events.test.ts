import { describe, expect, it } from 'vitest';
import { Emitter } from './events.js';

describe('Emitter', () => {
  it('calls listeners until they are disposed', () => {
    const emitter = new Emitter<number>();
    const seen: number[] = [];
    const subscription = emitter.event((value) => seen.push(value));
    emitter.emit(1);
    subscription.dispose();
    subscription.dispose();
    emitter.emit(2);
    expect(seen).toEqual([1]);
    expect(emitter.size).toBe(0);
  });

  it('keeps calling other listeners when one throws, and surfaces the error later', async () => {
    const emitter = new Emitter<string>();
    const seen: string[] = [];
    const boom = new Error('listener bug');
    emitter.event(() => {
      throw boom;
    });
    emitter.event((value) => seen.push(value));
    const surfaced = new Promise<unknown>((resolve) => {
      const original = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const listener of original) process.on('uncaughtException', listener);
        resolve(error);
      });
    });
    emitter.emit('x');
    expect(seen).toEqual(['x']);
    expect(await surfaced).toBe(boom);
  });
});
