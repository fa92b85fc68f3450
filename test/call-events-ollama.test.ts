/**
 * A call's lifecycle events through the Ollama client's per-call `onCallEvent`, against the
 * simulator over loopback: the same events `execute(fn, { onCallEvent })` gives.
 */
import type { CallEvent } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let sim: OllamaSim;

beforeAll(async () => {
  sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await sim.close();
});

const messages = [{ role: 'user', content: 'hello' }];

/** The events as `type attempt[ outcome| reason]` lines, which are what a listener would log. */
const line = (event: CallEvent): string => {
  switch (event.type) {
    case 'attempt-end':
      return `${event.type} ${event.attempt} ${event.outcome}`;
    case 'give-up':
      return `${event.type} ${event.attempt} ${event.reason}`;
    default:
      return `${event.type} ${event.attempt}`;
  }
};
const lines = (events: CallEvent[]) => events.map(line);

/** Runs `call` with a retrying client against the simulator, whose first chat answers `fault`. */
async function withClient(
  fault: { status: number; message?: string },
  call: (ollama: Ollama) => Promise<void>,
): Promise<void> {
  sim.clearFaults();
  sim.setFaults([{ route: '/api/chat', times: 1, ...fault }]);
  const ollama = new Ollama({
    host: sim.url,
    modelState: false,
    policy: retry({ maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 }),
  });
  try {
    await call(ollama);
  } finally {
    await ollama.close();
  }
}

describe('ollama calls take onCallEvent', () => {
  it('a whole chat that succeeds on its second attempt reports both attempts', async () => {
    await withClient({ status: 503 }, async (ollama) => {
      const events: CallEvent[] = [];
      const answer = await ollama.chat(
        { model: 'llama3.2', messages },
        { onCallEvent: (event) => events.push(event) },
      );
      expect(answer.done).toBe(true);
      expect(lines(events)).toEqual([
        'attempt-start 0',
        'attempt-end 0 failure',
        'attempt-start 1',
        'attempt-end 1 success',
      ]);
    });
  });

  it('a streamed chat commits its attempt when the caller gets the first chunk', async () => {
    await withClient({ status: 503 }, async (ollama) => {
      const events: CallEvent[] = [];
      const stream = await ollama.chat(
        { model: 'llama3.2', messages, stream: true },
        { onCallEvent: (event) => events.push(event) },
      );
      let chunks = 0;
      for await (const _ of stream) {
        if (chunks++ === 0) expect(lines(events).at(-1)).toBe('commit 1');
      }
      expect(chunks).toBeGreaterThan(1);
      expect(lines(events)).toEqual([
        'attempt-start 0',
        'attempt-end 0 failure',
        'attempt-start 1',
        'commit 1',
        'attempt-end 1 success',
      ]);
    });
  });

  it('a streamed chat that fails with a status no retry helps gives up as not-retryable', async () => {
    await withClient({ status: 400, message: 'bad request' }, async (ollama) => {
      const events: CallEvent[] = [];
      await expect(
        ollama.chat(
          { model: 'llama3.2', messages, stream: true },
          { onCallEvent: (event) => events.push(event) },
        ),
      ).rejects.toMatchObject({ status: 400 });
      expect(lines(events)).toEqual(['attempt-start 0', 'attempt-end 0 failure', 'give-up 0 not-retryable']);
    });
  });

  it('rejects a listener that is not a function, naming it', async () => {
    const ollama = new Ollama({ host: sim.url, modelState: false });
    try {
      await expect(
        ollama.chat({ model: 'llama3.2', messages }, { onCallEvent: 'log' as never }),
      ).rejects.toMatchObject({ code: 'ERR_BULWARK_INVALID_OPTION', option: 'onCallEvent' });
    } finally {
      await ollama.close();
    }
  });
});
