// The ts block 1 of packages/bulkhead/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { wrap } from '@bulwark/core';
import { bulkhead } from '@bulwark/bulkhead';
import { Ollama } from '@bulwark/ollama';

// OLLAMA_NUM_PARALLEL=4 on the server: four at a time per model, 64 waiting, 30 s at most in line.
const limit = bulkhead({ key: 'model', limit: 4, queue: 64, queueMs: 30_000 });
limit.onRejected(({ key }) => console.warn(`bulkhead full for ${key}`));
const ollama = new Ollama({ policy: wrap(limit) });

export {};
