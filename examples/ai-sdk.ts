// The AI SDK (`ai` with `@ai-sdk/openai-compatible`) against Ollama's /v1 routes, with Bulwark's
// policies through @bulwark/fetch. Switch off: the SDK's own retries, with `maxRetries: 0` on every
// call (it has no client-wide setting), or one lasting 503 costs 9 requests instead of 3.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { APICallError, generateText, streamText } from 'ai';
import { createFetch, retry, TimeoutError, timeout, wrap } from 'bulwark';

const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim({ faults: [{ status: 503, nth: 1 }] });
const fetch = createFetch({
  policy: wrap(
    timeout({ totalMs: 120_000 }),
    retry({ maxAttempts: 3, initialDelayMs: 50 }),
    timeout({ firstTokenMs: sim ? 500 : 60_000, idleMs: 30_000 }),
  ),
  retryNonIdempotent: true, // a completion is safe to send again before any output
});
const ollama = createOpenAICompatible({
  name: 'ollama',
  baseURL: `${process.env.OLLAMA_HOST || sim?.url}/v1`,
  fetch,
});

const { text } = await generateText({ model: ollama('llama3.2'), prompt: 'Say hello.', maxRetries: 0 });
console.log(`ai generated after ${sim ? sim.requests.length : 'some'} request(s): ${text}`);

let streamed = '';
for await (const part of streamText({
  model: ollama('llama3.2'),
  prompt: 'Stream a sentence.',
  maxRetries: 0,
}).textStream) {
  streamed += part;
}
console.log(`ai streamed: ${streamed}`);

if (sim) {
  // A lasting 503: Bulwark tries 3 times, then the SDK throws an APICallError with the last status.
  sim.clearRequests();
  sim.setFaults([{ route: '/v1/chat/completions', status: 503 }]);
  const busy = await generateText({ model: ollama('llama3.2'), prompt: 'Hi', maxRetries: 0 }).catch(
    (error: unknown) => error,
  );
  if (APICallError.isInstance(busy)) {
    console.log(`ai: APICallError ${busy.statusCode} after ${sim.requests.length} request(s)`);
  }

  // A hung server: Bulwark's first-token budget fires on each attempt and the SDK rethrows
  // Bulwark's TimeoutError as it is.
  sim.setFaults([{ route: '/v1/chat/completions', kind: 'hang' }]);
  const hung = await generateText({ model: ollama('llama3.2'), prompt: 'Hi', maxRetries: 0 }).catch(
    (error: unknown) => error,
  );
  console.log(`ai: ${hung instanceof TimeoutError ? `TimeoutError: ${hung.message}` : String(hung)}`);
}

await fetch.close();
await sim?.close();
