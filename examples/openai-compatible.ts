// An OpenAI-compatible SDK against Ollama's /v1 routes, with Bulwark's policies through @bulwark/fetch.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { createFetch, retry, timeout, wrap } from 'bulwark';
import OpenAI from 'openai';

const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim({ faults: [{ status: 503, nth: 1 }] });
const fetch = createFetch({
  policy: wrap(
    timeout({ totalMs: 120_000 }),
    retry({ maxAttempts: 3 }),
    timeout({ firstTokenMs: 60_000, idleMs: 30_000 }),
  ),
  retryNonIdempotent: true,
});
// maxRetries: 0, so that one policy decides about retries.
const openai = new OpenAI({
  baseURL: `${process.env.OLLAMA_HOST || sim?.url}/v1`,
  apiKey: 'ollama',
  fetch,
  maxRetries: 0,
});

const stream = await openai.chat.completions.create({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Stream me a sentence.' }],
  stream: true,
});
let text = '';
for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
console.log(`openai streamed: ${text}`);

await fetch.close();
await sim?.close();
