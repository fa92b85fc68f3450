import { startOllamaSim } from '@bulwark/ollama-sim';
import { Ollama, retry, timeout, wrap } from 'bulwark';

const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim({ tokenDelayMs: 20 });
const ollama = new Ollama({
  host: process.env.OLLAMA_HOST || sim?.url,
  // A deadline over everything, retries before the first token, and per-attempt budgets:
  // the first token within 60 s (a cold model load included), then never 10 s of silence.
  policy: wrap(
    timeout({ totalMs: 300_000 }),
    retry({ maxAttempts: 3 }),
    timeout({ firstTokenMs: 60_000, idleMs: 10_000 }),
  ),
});

const stream = await ollama.chat({
  model: 'llama3.2',
  messages: [{ role: 'user', content: 'Tell me a short story.' }],
  stream: true,
});
for await (const part of stream) {
  process.stdout.write(part.message.content);
  if (part.done) console.log(`\n[${part.eval_count} tokens, ${part.done_reason}]`);
}

await ollama.close();
await sim?.close();
