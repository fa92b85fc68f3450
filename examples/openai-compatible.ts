// The `openai` package against Ollama's /v1 routes, with Bulwark's policies through @bulwark/fetch.
// Switch off: the SDK's own retries (`maxRetries: 0`), or every Bulwark attempt is multiplied by
// its 3 (9 requests for one lasting 503 instead of 3).
import { startOllamaSim } from '@bulwark/ollama-sim';
import { BulwarkError, createFetch, retry, timeout, wrap } from 'bulwark';
import OpenAI from 'openai';

const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim({ faults: [{ status: 503, nth: 1 }] });
const bulwarkFetch = createFetch({
  policy: wrap(
    timeout({ totalMs: 120_000 }),
    retry({ maxAttempts: 3, initialDelayMs: 50 }),
    timeout({ firstTokenMs: sim ? 500 : 60_000, idleMs: 30_000 }),
  ),
  retryNonIdempotent: true, // a completion is safe to send again before any output
});
// openai reports a failed fetch as its own error without a cause: keep Bulwark's error to read it.
let lastFailure: unknown;
const fetch: typeof globalThis.fetch = (input, init) =>
  bulwarkFetch(input, init).catch((error: unknown) => {
    lastFailure = error;
    throw error;
  });
const openai = new OpenAI({
  baseURL: `${process.env.OLLAMA_HOST || sim?.url}/v1`,
  apiKey: 'ollama',
  fetch,
  maxRetries: 0, // one policy decides about retries: Bulwark's
});

const stream = await openai.chat.completions.create({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Stream me a sentence.' }],
  stream: true,
});
let text = '';
for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
console.log(`openai streamed: ${text}`);

if (sim) {
  // A lasting 503: Bulwark tries 3 times, then openai throws its APIError with the last status.
  sim.clearRequests();
  sim.setFaults([{ route: '/v1/chat/completions', status: 503 }]);
  const busy = await openai.chat.completions
    .create({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] })
    .catch((error: unknown) => error);
  if (busy instanceof OpenAI.APIError) {
    console.log(`openai: ${busy.constructor.name} ${busy.status} after ${sim.requests.length} request(s)`);
  }

  // A hung server: Bulwark's first-token budget fires on each attempt; openai reports an
  // APIConnectionTimeoutError ("Request timed out.") with no cause. Bulwark's error is the one kept.
  sim.setFaults([{ route: '/v1/chat/completions', kind: 'hang' }]);
  const hung = await openai.chat.completions
    .create({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] })
    .catch((error: unknown) => error);
  if (hung instanceof OpenAI.APIConnectionTimeoutError && BulwarkError.is(lastFailure)) {
    console.log(`openai: ${hung.constructor.name} (cause: ${hung.cause}); Bulwark: ${lastFailure.message}`);
  }
}

await bulwarkFetch.close();
await sim?.close();
