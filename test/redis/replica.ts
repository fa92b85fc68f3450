// One service replica for the fleet tests: an Ollama client whose breaker and bulkhead keep their
// state in Redis. Driven by its parent over IPC; reports each call's outcome.
import { ConsecutiveBreaker, circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { BulwarkError, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { redisBreakerStore, redisBulkheadStore, redisSharedState } from '@bulwark/redis';
import { Redis } from 'ioredis';

interface Config {
  name: string;
  redisPort: number;
  simUrl: string;
  limit: number;
  leaseMs: number;
  halfOpenAfterMs: number;
  /** A fleet of these hosts instead of `simUrl` alone. */
  hosts?: string[];
  /** Model and host state shared through Redis. */
  sharedState?: boolean;
  /** Without the shared breaker (and bulkhead): only the fleet and its state. */
  policy?: boolean;
  /** Failures in a row that eject a host. */
  consecutiveFailures?: number;
}

type Message =
  | { type: 'run'; id: number; calls: number; model: string }
  | { type: 'hold'; id: number; calls: number; model: string }
  | { type: 'state'; id: number }
  | { type: 'exit' };

const config = JSON.parse(process.argv[2] as string) as Config;
const send = (message: Record<string, unknown>) => process.send?.(message);

const redis = new Redis(config.redisPort, '127.0.0.1', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => 100,
});
redis.on('error', () => {});
// A stopped Redis fails commands at once (no offline queue); the generous timeout only keeps a
// loaded test machine from looking like a slow Redis.
const storeOptions = { client: redis, prefix: 'fleet', commandTimeoutMs: 2_000, retryUnavailableMs: 200 };
const slots = redisBulkheadStore({ ...storeOptions, leaseMs: config.leaseMs, pollMs: 10 });
// Hears breakers opened elsewhere, so a breaker seen closed costs no round trip per call.
const subscriber = redis.duplicate();
subscriber.on('error', () => {});
const states = redisBreakerStore({ ...storeOptions, subscriber });
const shared = config.sharedState ? redisSharedState(storeOptions) : undefined;
for (const store of [slots, states, ...(shared ? [shared] : [])]) {
  store.onUnavailable(({ store: name }) => send({ type: 'event', event: `unavailable ${name}` }));
  store.onAvailable(({ store: name }) => send({ type: 'event', event: `available ${name}` }));
}
const limit = bulkhead({ limit: config.limit, queue: 1_000, store: slots });
const breaker = circuitBreaker({
  key: 'model',
  breaker: () => new ConsecutiveBreaker(3),
  halfOpenAfterMs: config.halfOpenAfterMs,
  store: states,
});
// With the defaults a user has: owned model loads on.
const ollama = new Ollama({
  ...(config.hosts ? { hosts: config.hosts } : { host: config.simUrl }),
  policy: config.policy === false ? undefined : wrap(breaker, limit),
  sharedState: shared,
  fleet: { consecutiveFailures: config.consecutiveFailures },
});
let loadStarts = 0;
ollama.onLoadStart(() => loadStarts++);

async function call(model: string): Promise<string> {
  try {
    let text = '';
    const stream = await ollama.chat({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const part of stream) text += part.message.content;
    return text.length > 0 ? 'ok' : 'empty';
  } catch (error) {
    return BulwarkError.is(error) ? error.code : String(error);
  }
}

process.on('message', async (message: Message) => {
  if (message.type === 'exit') {
    await ollama.close();
    redis.disconnect();
    subscriber.disconnect();
    process.exit(0);
  }
  if (message.type === 'state') {
    send({
      type: 'done',
      id: message.id,
      outcomes: { fleet: ollama.fleet(), models: ollama.modelStates(), loadStarts },
    });
    return;
  }
  if (message.type === 'hold') {
    const acquired = limit.onAcquired(() => {
      if (limit.stats().running >= message.calls) {
        acquired.dispose();
        send({ type: 'holding', id: message.id });
      }
    });
    for (let i = 0; i < message.calls; i++) void call(message.model);
    return;
  }
  const outcomes = await Promise.all(Array.from({ length: message.calls }, () => call(message.model)));
  send({ type: 'done', id: message.id, outcomes });
});

redis.once('ready', () => send({ type: 'ready' }));
