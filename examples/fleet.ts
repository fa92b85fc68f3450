// Three Ollama hosts, one failing: calls are routed where the model is warm, the failing host is
// ejected, and a failed attempt moves to another host before any output.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { createOllama } from 'bulwark';

const gpuA = await startOllamaSim({ numParallel: 4 });
const gpuB = await startOllamaSim({ loadMs: 2_000 });
const broken = await startOllamaSim({ faults: [{ route: '/api/chat', status: 500 }] });

const ollama = createOllama({
  hosts: [{ host: gpuA.url, capacity: 4 }, gpuB.url, broken.url], // or OLLAMA_HOSTS=a:11434,b:11434
  fallbackModels: { 'llama3.1:70b': ['llama3.2'] },
  fleet: { consecutiveFailures: 3, maxEjectionPercent: 34 },
});
await ollama.load('llama3.2', { host: gpuA.url });
await ollama.load('llama3.2', { host: broken.url });

const answers = await Promise.all(
  Array.from({ length: 20 }, (_, i) =>
    ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: `question ${i}` }] }),
  ),
);
for (const host of ollama.fleet().hosts) {
  console.log(`${host.host}: ${host.state}, warm: ${host.warmModels.join(', ') || 'none'}`);
}
console.log(`${answers.length} of 20 calls answered`);

await ollama.close();
await Promise.all([gpuA.close(), gpuB.close(), broken.close()]);
