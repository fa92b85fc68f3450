// The ts block 4 of packages/ollama/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
import { Ollama } from '@bulwark/ollama';

// ---- README block
const ollama = new Ollama({ host: 'http://127.0.0.1:11434', loadMs: 300_000 });
ollama.onLoadEnd(({ model, durationMs, outcome }) => console.log(`${model}: ${outcome} in ${durationMs} ms`));
await ollama.load('llama3.2', { keepAlive: '30m' }); // warm it before traffic arrives
console.log(ollama.modelStates()); // [{ host, model: 'llama3.2', state: 'warm', expiresAt, … }]
await ollama.unload('llama3.2'); // the next call loads it again

export {};
