// The official `ollama` package, with Bulwark's policies through @bulwark/fetch.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { createFetch, retry, timeout, wrap } from 'bulwark';
import { Ollama } from 'ollama';

// A busy server: the first answer is Ollama's 503 "server busy".
const sim = process.env.OLLAMA_HOST ? undefined : await startOllamaSim({ faults: [{ status: 503, nth: 1 }] });
const fetch = createFetch({
  policy: wrap(timeout({ totalMs: 120_000 }), retry({ maxAttempts: 3 }), timeout({ firstTokenMs: 60_000 })),
  retryNonIdempotent: true, // a non-streamed completion is safe to send again
});
const ollama = new Ollama({ host: process.env.OLLAMA_HOST || sim?.url, fetch });

const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello!' }] });
console.log(
  `ollama-js answered after ${sim ? sim.requests.length : 'some'} request(s): ${answer.message.content}`,
);

if (sim) {
  // A lasting 503: Bulwark tries 3 times; ollama-js does not retry, and throws its ResponseError.
  sim.clearRequests();
  sim.setFaults([{ route: '/api/chat', status: 503 }]);
  const busy = (await ollama
    .chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello!' }] })
    .catch((error: unknown) => error)) as { name: string; status_code: number };
  console.log(`ollama-js: ${busy.name} ${busy.status_code} after ${sim.requests.length} request(s)`);
}

await fetch.close();
await sim?.close();
