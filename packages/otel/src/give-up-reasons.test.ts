import {
  type CallEvent,
  type Context,
  definePolicy,
  type GiveUpReason,
  type Policy,
  ResponseError,
  wrap,
} from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConstantBackoff } from 'cockatiel';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { instrument } from './index.js';
import { type Harness, registerOtel, unregisterOtel } from './test-support/otel-harness.js';

let otel: Harness;
otel = registerOtel();
afterAll(() => unregisterOtel(otel));
beforeEach(() => otel.exporter.reset());

const attributes = (model: string) => ({
  operation: 'chat',
  model,
  host: 'http://127.0.0.1:11434',
  provider: 'ollama',
  request: { model, messages: [] },
});
const busy = () => new ResponseError({ status: 503, serverMessage: 'busy' });
/** An attempt that runs until its signal aborts, then fails with the signal's reason. */
const hang = (context: Context) =>
  new Promise<never>((_, reject) => {
    context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
  });

interface Path {
  readonly reason: GiveUpReason;
  readonly policy: () => { pipeline: Policy; retries: ReturnType<typeof retry> };
  readonly operation: (context: Context) => Promise<unknown>;
  /** The caller's signal, and what aborts it once the call is under way. */
  readonly cancel?: (controller: AbortController, retries: ReturnType<typeof retry>) => void;
}

const plain = (options: Parameters<typeof retry>[0]) => () => {
  const retries = retry({ backoff: new ConstantBackoff(0), budget: false, ...options });
  return { pipeline: retries, retries };
};

const PATHS: readonly Path[] = [
  {
    reason: 'max-attempts',
    policy: plain({ maxAttempts: 2 }),
    operation: async () => Promise.reject(busy()),
  },
  {
    reason: 'not-retryable',
    policy: plain({}),
    operation: async () => Promise.reject(new ResponseError({ status: 404, serverMessage: 'no model' })),
  },
  {
    reason: 'committed',
    policy: plain({}),
    operation: async (context) => {
      context.commit();
      throw busy();
    },
  },
  {
    reason: 'deadline',
    policy: () => {
      const retries = retry({ backoff: new ConstantBackoff(60_000), budget: false });
      const deadline = definePolicy((context, next) =>
        next(context.with({ deadline: context.clock.now() + 5_000 })),
      );
      return { pipeline: wrap(deadline, retries), retries };
    },
    operation: async () => Promise.reject(busy()),
  },
  {
    reason: 'budget',
    policy: plain({ budget: { ratio: 0, minRetries: 0 } }),
    operation: async () => Promise.reject(busy()),
  },
  {
    reason: 'cancelled',
    policy: plain({ backoff: new ConstantBackoff(60_000) }),
    operation: async () => Promise.reject(busy()),
    cancel: (controller, retries) => {
      retries.onRetry(() => setTimeout(() => controller.abort(new Error('caller went away')), 1));
    },
  },
  {
    reason: 'outer-deadline',
    policy: () => {
      const retries = retry({ backoff: new ConstantBackoff(0), budget: false });
      return { pipeline: wrap(timeout({ totalMs: 40 }), retries), retries };
    },
    operation: hang,
  },
];

describe('the give-up reason of every path', () => {
  it.each(PATHS)('$reason: the same for a user listener, the policy event and otel', async (path) => {
    const model = `give-up-${path.reason}`;
    const { pipeline, retries } = path.policy();
    const fromPolicy: GiveUpReason[] = [];
    retries.onGiveUp((event) => fromPolicy.push(event.reason));
    const events: CallEvent[] = [];
    const controller = new AbortController();
    path.cancel?.(controller, retries);
    const failure = await instrument(pipeline)
      .execute(path.operation, {
        attributes: attributes(model),
        signal: controller.signal,
        onCallEvent: (event) => events.push(event),
      })
      .catch((error: unknown) => error);

    // the user's listener: one give-up, last, with the error the call rejected with (a deadline
    // the policy above converted is the exception: it names its own budget)
    const giveUps = events.filter((event) => event.type === 'give-up');
    expect(giveUps.map((event) => event.reason)).toEqual([path.reason]);
    expect(events.at(-1)?.type).toBe('give-up');
    if (path.reason !== 'deadline') expect(giveUps[0]?.error).toBe(failure);
    // every attempt started ends before the give-up
    const starts = events.filter((event) => event.type === 'attempt-start').length;
    expect(events.filter((event) => event.type === 'attempt-end')).toHaveLength(starts);
    expect(fromPolicy).toEqual([path.reason]);

    // otel: the same reason on the call span (a caller's cancel is recorded as bulwark.cancelled)
    const call = otel.spans().find((span) => span.name === `chat ${model}`) as ReadableSpan;
    const names = call.events.map((event) => event.name);
    const recorded = call.events
      .filter((event) => event.name === 'bulwark.retry.give_up')
      .map((event) => event.attributes?.['bulwark.retry.reason']);
    if (path.reason === 'cancelled') {
      expect(recorded).toEqual([]);
      expect(names).toContain('bulwark.cancelled');
    } else {
      expect(recorded).toEqual([path.reason]);
    }
  });
});
