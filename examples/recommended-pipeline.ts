// The pipeline createOllama() builds, written out by hand, with each policy's events printed.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { bulkhead, circuitBreaker, Ollama, retry, timeout, wrap } from 'bulwark';

// A busy server: the first two chats get Ollama's 503 "server busy".
const sim = process.env.OLLAMA_HOST
  ? undefined
  : await startOllamaSim({ faults: [{ route: '/api/chat', status: 503, times: 2 }] });

const retries = retry({ maxAttempts: 3 });
const breaker = circuitBreaker({ key: 'model' });
const limit = bulkhead({ key: 'model', limit: 4, queue: 64 });
const policy = wrap(
  timeout({ totalMs: 600_000 }), // 1. one deadline over everything, backoff waits included
  retries, // 2. replays what failed before output reached the caller
  breaker, // 3. a failing model fails fast; its refusal is not retried
  limit, // 4. caps generations; an open breaker rejects without queueing
  timeout({ connectMs: 10_000, firstTokenMs: 300_000, idleMs: 60_000 }), // 5. the budgets of each attempt
);

retries.onRetry(({ attempt, delayMs, error }) =>
  console.log(
    `retry: attempt ${attempt + 1} failed (${(error as Error).message}); next in ${Math.round(delayMs)} ms`,
  ),
);
breaker.onStateChange(({ key, from, to }) => console.log(`breaker ${key}: ${from} → ${to}`));
limit.onRejected(({ key }) => console.log(`bulkhead ${key}: full, call rejected`));

const ollama = new Ollama({ host: process.env.OLLAMA_HOST || sim?.url, policy });
const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello!' }] });
console.log(`answered: ${answer.message.content}`);

await ollama.close();
await sim?.close();
