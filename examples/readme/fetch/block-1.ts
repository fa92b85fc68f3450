// The ts block 1 of packages/fetch/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { wrap } from '@bulwark/core';
import { createFetch } from '@bulwark/fetch';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { Ollama } from 'ollama';

const fetch = createFetch({
  policy: wrap(timeout({ totalMs: 120_000 }), retry({ maxAttempts: 3 }), timeout({ firstTokenMs: 60_000, idleMs: 30_000 })),
  retryNonIdempotent: true, // non-streamed completions are safe to replay
});
const ollama = new Ollama({ host: 'http://127.0.0.1:11434', fetch });
console.log((await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hi' }] })).message.content);
await fetch.close();

export {};
