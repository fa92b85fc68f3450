import { startGateway } from '@bulwark/gateway';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { Ollama } from 'ollama';

// A real server: set OLLAMA_HOST to it. Otherwise an embedded simulator answers.
const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim();
const gateway = await startGateway({
  upstream: process.env.OLLAMA_HOST || `${sim?.url}`,
  port: 0,
  maxRetries: 2,
  bulkhead: { limit: 4, queue: 64 },
});

// Any Ollama client, in any language, only changes its host.
const ollama = new Ollama({ host: gateway.url });
const answer = await ollama.chat({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Why is the sky blue?' }],
});
console.log(answer.message.content);
console.log(`live page: ${gateway.url}/_bulwark/, metrics: ${gateway.url}/metrics`);

await gateway.close();
await sim?.close();
