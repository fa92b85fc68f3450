// The ts block 1 of packages/ollama-sim/README.md, verbatim below the marker, type-checked.
// biome-ignore-all format: a verbatim copy of a README block, formatted as the README shows it
// biome-ignore-all lint: a verbatim copy of a README block
// biome-ignore-all assist/source/organizeImports: a verbatim copy of a README block
// ---- README block
import { Ollama } from 'ollama';
import { simulatedReply, startOllamaSim } from '@bulwark/ollama-sim';

await using sim = await startOllamaSim({
  models: ['llama3.2', { name: 'qwen3', loadMs: 2_000 }],
  faults: [{ route: '/api/chat', nth: 2, kind: 'reset', afterChunks: 5 }],
});
const ollama = new Ollama({ host: sim.url });
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

const answer = await ollama.chat({ model: 'llama3.2', messages });
console.log(answer.message.content === simulatedReply({ model: 'llama3.2', messages }).content); // true

try {
  for await (const part of await ollama.chat({ model: 'llama3.2', messages, stream: true })) {
    process.stdout.write(part.message.content);
  }
} catch (error) {
  console.log('\nthe 2nd chat was reset after 5 lines:', (error as Error).message);
}
console.log(sim.requests.map((request) => `${request.route} ${request.status} ${request.outcome}`));

export {};
