import { circuitBreaker } from '@bulwark/breaker';
import { bulkhead } from '@bulwark/bulkhead';
import { type Policy, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { Ollama as OfficialOllama } from 'ollama';
import { createRawClient } from './raw-undici.js';

export const MODEL = 'llama3.2';
export const ask = (content = 'benchmark') => ({ model: MODEL, messages: [{ role: 'user', content }] });

/** The full pipeline, with limits that never bind at the measured concurrency. */
export function fullPipeline(): Policy {
  return wrap(
    timeout({ totalMs: 60_000 }),
    retry({ maxAttempts: 3 }),
    circuitBreaker({ key: 'model' }),
    bulkhead({ key: 'model', limit: 1_024, queue: 1_024 }),
    timeout({ firstTokenMs: 30_000, idleMs: 30_000 }),
  );
}

export interface Contender {
  name: string;
  chat(): Promise<unknown>;
  close(): Promise<void>;
}

export function raw(url: string): Contender {
  const client = createRawClient(url, 512);
  return { name: 'raw undici.request', chat: () => client.chat(ask()), close: () => client.close() };
}

export function official(url: string): Contender {
  const client = new OfficialOllama({ host: url });
  return { name: 'official ollama', chat: () => client.chat(ask()), close: async () => {} };
}

export function bulwark(
  url: string,
  name: string,
  policy?: Policy,
  instrument?: (policy: Policy) => Policy,
): Contender {
  const client = new Ollama({
    host: url,
    connections: 512,
    ...(policy ? { policy } : {}),
    ...(instrument ? { instrument } : {}),
  });
  return { name, chat: () => client.chat(ask()), close: () => client.close() };
}
