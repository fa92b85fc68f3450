// The ts block 1 of packages/ollama/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

const ollama = new Ollama({
  host: 'http://127.0.0.1:11434', // default: OLLAMA_HOST, else this
  policy: wrap(
    timeout({ totalMs: 120_000 }), // the whole call, retries and backoff included
    retry({ maxAttempts: 3 }), // retries failures that happened before any output reached you
    timeout({ firstTokenMs: 30_000, idleMs: 10_000 }), // per attempt: first token, then silences
  ),
});

const messages = [{ role: 'user', content: 'Why is the sky blue?' }];
const answer = await ollama.chat({ model: 'llama3.2', messages });
console.log(answer.message.content, answer.eval_count);

for await (const part of await ollama.chat({ model: 'llama3.2', messages, stream: true })) {
  process.stdout.write(part.message.content);
}
await ollama.close();

export {};
