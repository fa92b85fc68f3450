// The ts block 1 of packages/retry/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { parseRetryAfter, ResponseError, wrap } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

const retries = retry({ maxAttempts: 3 });
retries.onRetry(({ attempt, delayMs, error }) => console.warn(`attempt ${attempt + 1} failed (${error}), retrying in ${Math.round(delayMs)} ms`));

const policy = wrap(
  timeout({ totalMs: 60_000 }), // one deadline over every attempt and wait
  retries,
  timeout({ attemptMs: 20_000 }), // each attempt
);

const reply = await policy.execute(
  async ({ signal }) => {
    const response = await fetch('http://127.0.0.1:11434/api/chat', {
      method: 'POST',
      signal,
      body: JSON.stringify({
        model: 'llama3.2',
        stream: false,
        messages: [{ role: 'user', content: 'Why is the sky blue? One sentence.' }],
      }),
    });
    if (!response.ok) {
      // 503 (Ollama's queue is full), 429 and 5xx are retryable; 404 (unknown model) is not
      throw new ResponseError({
        status: response.status,
        serverMessage: await response.text(),
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()),
      });
    }
    return (await response.json()) as { message: { content: string } };
  },
  { attributes: { operation: 'chat', model: 'llama3.2' } },
);
console.log(reply.message.content);

export {};
