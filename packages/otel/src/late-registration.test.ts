import { noop } from '@bulwark/core';
import { afterAll, describe, expect, it } from 'vitest';
import { instrument, startSpanHook } from './index.js';
import { type Harness, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

const attributes = {
  operation: 'chat',
  model: 'late-model',
  host: 'http://127.0.0.1:11434',
  provider: 'ollama',
};
const answer = { model: 'late-model', done: true, done_reason: 'stop', prompt_eval_count: 3, eval_count: 2 };

let harness: Harness | undefined;
afterAll(() => unregisterOtel(harness));

describe('before and after an SDK registers', () => {
  // Made at import time, long before any SDK: the way a client module is usually loaded.
  const policy = instrument(noop());

  it('does nothing with no SDK registered: no call state, no attempt context', async () => {
    let symbols = -1;
    let hook = {};
    const result = await policy.execute(
      async (context) => {
        symbols = Object.getOwnPropertySymbols(context.attributes).length;
        hook = startSpanHook();
        return answer;
      },
      { attributes },
    );
    expect(result).toBe(answer);
    expect(symbols).toBe(0);
    expect(hook).toEqual({});
  });

  it('records spans and metrics once an SDK registers, though instrument() ran before', async () => {
    harness = registerOtel();
    await policy.execute(async () => answer, { attributes });
    expect(harness.spans().map((span) => span.name)).toEqual(['bulwark.attempt', 'chat late-model']);
    const points = await harness.metrics();
    const duration = points.find((point) => point.name === 'gen_ai.client.operation.duration');
    expect(duration?.attributes['gen_ai.request.model']).toBe('late-model');
    expect(points.filter((point) => point.name === 'gen_ai.client.token.usage')).toHaveLength(2);
  });

  it('follows a provider registered again after the old one was removed', async () => {
    await unregisterOtel(harness);
    harness = registerOtel();
    await policy.execute(async () => answer, { attributes });
    expect(harness.spans()).toHaveLength(2);
    expect((await harness.metrics()).some((point) => point.name === 'gen_ai.client.operation.duration')).toBe(
      true,
    );
  });

  it('keeps metrics when only a meter provider is registered', async () => {
    await unregisterOtel(harness);
    harness = registerOtel({ traces: false });
    await policy.execute(async () => answer, { attributes });
    expect(harness.spans()).toHaveLength(0);
    expect((await harness.metrics()).some((point) => point.name === 'bulwark.attempt.duration')).toBe(true);
  });
});
