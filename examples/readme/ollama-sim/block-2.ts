// The ts block 2 of packages/ollama-sim/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import type { OllamaSim } from '@bulwark/ollama-sim';

declare const sim: OllamaSim;

// ---- README block
sim.setFaults([
  { route: '/api/chat', nth: 1, times: 2, status: 503, retryAfter: 1 },       // 1st and 2nd chats: busy
  { model: 'qwen3', kind: 'stall', afterChunks: 10, stallMs: 30_000 },          // every qwen3 stream stalls
  { route: /^\/api\/(chat|generate)$/, when: (r) => r.index % 10 === 0, kind: 'error-line', afterChunks: 3 },
  { route: '/api/tags', dripBytes: 4, dripIntervalMs: 5, gzip: true },
]);

export {};
