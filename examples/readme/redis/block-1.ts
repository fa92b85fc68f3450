import { Ollama } from '@bulwark/ollama';
import { instrumentStores } from '@bulwark/otel';
import { redisBreakerStore, redisBulkheadStore, redisSharedState } from '@bulwark/redis';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
});
// A second connection, only to hear breakers open: a closed breaker then costs no round trip.
const subscriber = redis.duplicate();
const breakers = redisBreakerStore({ client: redis, subscriber });
const slots = redisBulkheadStore({ client: redis });
// Which model is warm or loading on which host, and which hosts are ejected, for every replica.
const sharedState = redisSharedState({ client: redis });
// `store_unavailable` / `store_available` on the bulwark.events counter, per store.
instrumentStores(breakers, slots, sharedState);

const ollama = new Ollama({
  hosts: ['http://gpu-1:11434', 'http://gpu-2:11434', 'http://gpu-3:11434'],
  sharedState,
});

export { ollama };
