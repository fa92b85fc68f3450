// The Python client's timeout settings and their Bulwark equivalents, run against the simulator
// (or a real server: set OLLAMA_HOST). Each block below appears verbatim in the README.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { createOllama, isTimeout } from 'bulwark';

const sim = process.env.OLLAMA_HOST
  ? undefined
  : await startOllamaSim({
      // Generations hang (but not the empty-prompt request that loads the model before a call).
      faults: [
        {
          route: '/api/generate',
          kind: 'hang',
          when: (request) => (request.body as { prompt?: string })?.prompt !== '',
        },
      ],
    });
const host = process.env.OLLAMA_HOST || sim?.url;
const messages = [{ role: 'user' as const, content: 'Why is the sky blue?' }];

// Client(host, timeout=30)
const simple = createOllama({ host, timeout: 30_000 });

// Client(host, timeout=httpx.Timeout(120, connect=5)), max_retries=2
const ollama = createOllama({
  host,
  timeout: { connectMs: 5_000, headersMs: 120_000, firstTokenMs: 120_000, idleMs: 120_000 },
  maxRetries: 2,
});

// Client(host, timeout=None): no limit at all
const patient = createOllama({
  host,
  timeout: {
    totalMs: Infinity,
    connectMs: Infinity,
    headersMs: Infinity,
    firstTokenMs: Infinity,
    idleMs: Infinity,
  },
});

// What a configuration can take with its retries
const { worstCaseMs, maxAttempts } = ollama.timeouts();
console.log(`worst case: ${worstCaseMs / 1000} s over ${maxAttempts} attempts`);

for (const client of [simple, ollama, patient]) {
  const answer = await client.chat({ model: 'llama3.2', messages });
  console.log(`answered: ${answer.message.content.slice(0, 40)}`);
}

// except TimeoutError: any timeout, Bulwark's or a caller's AbortSignal.timeout()
try {
  await ollama.generate(
    { model: 'llama3.2', prompt: 'Why is the sky blue?' },
    { timeout: { totalMs: 1_000 } },
  );
} catch (error) {
  if (!isTimeout(error)) throw error;
  console.log(`timed out: ${(error as Error).message}`);
}
try {
  await ollama.generate({ model: 'llama3.2', prompt: 'Hi' }, { signal: AbortSignal.timeout(500) });
} catch (error) {
  if (!isTimeout(error)) throw error;
  console.log(`timed out (caller's signal): ${(error as Error).name}`);
}

await Promise.all([simple.close(), ollama.close(), patient.close()]);
await sim?.close();
