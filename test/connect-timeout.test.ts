import { TimeoutError } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { afterEach, describe, expect, it } from 'vitest';

import { startUnacceptedListener, type UnacceptedListener } from './support/unaccepted-listener.js';

let listener: UnacceptedListener | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await listener?.close();
  client = undefined;
  listener = undefined;
});

describe('connect budget', () => {
  it("fires on Bulwark's own timer, within the precision of the other phases", async () => {
    listener = await startUnacceptedListener();
    client = new Ollama({ host: `http://127.0.0.1:${listener.port}`, connectMs: 300 });
    const started = performance.now();
    const error = (await client.version().catch((caught: unknown) => caught)) as TimeoutError;
    const elapsedMs = performance.now() - started;
    expect(TimeoutError.is(error), String(error)).toBe(true);
    expect(error.phase).toBe('connect');
    expect(error.timeoutMs).toBe(300);
    expect(elapsedMs).toBeGreaterThanOrEqual(300);
    expect(elapsedMs).toBeLessThan(360);
  });

  it("takes a call's own connectMs over the client's", async () => {
    listener = await startUnacceptedListener();
    client = new Ollama({ host: `http://127.0.0.1:${listener.port}`, connectMs: 5_000 });
    const started = performance.now();
    const error = (await client
      .chat({ model: 'm', messages: [] }, { timeout: { connectMs: 200 } })
      .catch((caught: unknown) => caught)) as TimeoutError;
    expect(error.phase).toBe('connect');
    expect(error.timeoutMs).toBe(200);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
