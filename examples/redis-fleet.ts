import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { tokenRateLimit } from '@bulwark/rate-limit';
import { redisBreakerStore, redisBulkheadStore, redisTokenStore } from '@bulwark/redis';
import { Redis } from 'ioredis';

// Every replica of the service runs this: the limits below hold for all of them together.
// A real server: set OLLAMA_HOST. Otherwise an embedded simulator answers.
const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim();
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false, // fail at once while disconnected: the stores fall back to local limits
  maxRetriesPerRequest: 0,
  lazyConnect: true,
});
redis.on('error', () => {}); // reported by the stores' onUnavailable instead
await redis.connect(); // until connected, every store would answer from local limits

const slots = redisBulkheadStore({ client: redis, leaseMs: 10_000 });
slots.onUnavailable(({ error }) => console.warn(`Redis unavailable (${error}): local limits`));
slots.onAvailable(({ unavailableMs }) => console.warn(`Redis back after ${unavailableMs} ms: shared limits`));

const policy = wrap(
  tokenRateLimit({ key: 'model', tokensPerWindow: 100_000, store: redisTokenStore({ client: redis }) }),
  circuitBreaker({ key: 'model', store: redisBreakerStore({ client: redis }) }),
  bulkhead({ key: 'model', limit: 2, queue: 64, store: slots }), // OLLAMA_NUM_PARALLEL=2 on the server
);
const ollama = new Ollama({ host: process.env.OLLAMA_HOST || sim?.url, policy });

const answer = await ollama.chat({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Why is the sky blue?' }],
});
console.log(answer.message.content);

await ollama.close();
redis.disconnect();
await sim?.close();
