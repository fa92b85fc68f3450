// The ts block 3 of packages/ollama/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import { Ollama, trackProgress } from '@bulwark/ollama';

const ollama = new Ollama();

// ---- README block
for await (const progress of trackProgress(await ollama.pull({ model: 'llama3.2', stream: true }))) {
  console.log(`${progress.status} ${progress.percent?.toFixed(1) ?? '?'}%, ${progress.etaMs ?? '?'} ms left`);
}

export {};
