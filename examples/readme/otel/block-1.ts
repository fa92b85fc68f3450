// The ts block 1 of packages/otel/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';

const ollama = new Ollama({
  host: 'http://127.0.0.1:11434',
  policy: wrap(retry({ maxAttempts: 3 }), timeout({ firstTokenMs: 60_000, idleMs: 30_000 })),
  instrument, // or createInstrumentation({ captureContent: true })
});
const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello' }] });

export {};
