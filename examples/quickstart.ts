import { createOllama } from 'bulwark';

// A real server: set OLLAMA_HOST. Otherwise an embedded simulator answers; it is imported only
// then, so a production install without dev dependencies never loads it.
const sim = process.env.OLLAMA_HOST
  ? undefined
  : await (await import('@bulwark/ollama-sim')).startOllamaSim();
const ollama = createOllama({
  host: process.env.OLLAMA_HOST || sim?.url,
  timeout: { totalMs: 120_000, firstTokenMs: 60_000, idleMs: 30_000 },
  maxRetries: 2,
});

const answer = await ollama.chat({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Why is the sky blue?' }],
});
console.log(answer.message.content);

await ollama.close();
await sim?.close();
