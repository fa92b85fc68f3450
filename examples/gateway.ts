import { startGateway } from '@bulwark/gateway';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { Ollama } from 'ollama';

// Real servers: list them in OLLAMA_HOSTS (comma-separated). Otherwise two embedded simulators answer.
const sims = process.env.OLLAMA_HOSTS ? [] : [await startOllamaSim(), await startOllamaSim()];
const gateway = await startGateway({
  upstreams: process.env.OLLAMA_HOSTS?.split(',') ?? sims.map((sim) => sim.url),
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
await Promise.all(sims.map((sim) => sim.close()));
