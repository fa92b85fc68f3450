import { definePolicy } from '@bulwark/core';
import { type OllamaSim, simulatedReply, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, expect, it } from 'vitest';
import { Ollama } from './ollama.js';

let sim: OllamaSim | undefined;
let client: Ollama | undefined;

afterEach(async () => {
  await client?.close();
  await sim?.close();
});

it("ends a stream's attempt when the caller has read the last chunk, resolving with the whole answer", async () => {
  sim = await startOllamaSim({ models: ['llama3.2'], replyTokens: 8 });
  let settledAt = 0;
  let result: unknown;
  const observe = definePolicy(async (context, next) => {
    const value = await next(context);
    result = value;
    settledAt = performance.now();
    return value;
  });
  client = new Ollama({ host: sim.url, policy: observe });
  const request = { model: 'llama3.2', messages: [{ role: 'user', content: 'slow reader' }] };
  const stream = await client.chat({ ...request, stream: true });
  const doneWith: number[] = [];
  for await (const _ of stream) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    doneWith.push(performance.now());
  }
  await new Promise((resolve) => setImmediate(resolve));
  expect(doneWith).toHaveLength(9);
  // The server sent everything at once; the attempt still lasted until the slow reader took the
  // last chunk, which it asks for only after it is done with the one before.
  expect(settledAt).toBeGreaterThanOrEqual(doneWith[7] as number);
  expect((result as { message: { content: string } }).message.content).toBe(
    simulatedReply(request, { name: 'llama3.2', replyTokens: 8 }).content,
  );
});
