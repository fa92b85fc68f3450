import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { retry } from '@bulwark/retry';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { streamCall } from './test-support/ollama-stand-in.js';
import { type Harness, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

/*
 * The call span ends when the policy operation settles. With a transport that hands each chunk over
 * only once the caller took the previous one (the stand-in here), that is after the caller read the
 * last chunk, however slowly it reads.
 */

let otel: Harness;
let sim: OllamaSim;

beforeAll(async () => {
  otel = registerOtel();
  sim = await startOllamaSim({ replyTokens: 8 });
});

afterAll(async () => {
  await sim.close();
  await unregisterOtel(otel);
});

const endMs = (span: ReadableSpan) => span.endTime[0] * 1000 + span.endTime[1] / 1e6;
const durationMs = (span: ReadableSpan) => span.duration[0] * 1000 + span.duration[1] / 1e6;

describe('a transport that hands chunks over one at a time', () => {
  it('ends a streamed call span only after the last chunk was read', async () => {
    const policy = instrument(retry({ maxAttempts: 2, backoff: new ConstantBackoff(0), budget: false }));
    const { chunks, final } = streamCall(policy, sim.url, {
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hello' }],
    });
    let lastChunkAt = 0;
    let read = 0;
    for await (const _chunk of chunks) {
      read++;
      lastChunkAt = performance.timeOrigin + performance.now();
      // A slow reader: 8 chunks, 20 ms each.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await final;
    expect(read).toBe(8);
    const call = otel.spans().find((span) => span.name === 'chat llama3.2') as ReadableSpan;
    expect(endMs(call)).toBeGreaterThanOrEqual(lastChunkAt - 1);
    expect(durationMs(call)).toBeGreaterThanOrEqual(7 * 20 - 5);
    expect(call.attributes['gen_ai.usage.output_tokens']).toBe(8);
    expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
  });
});
