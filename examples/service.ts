// A small HTTP service that answers its own clients through one shared pipeline: per-model
// breakers and a bulkhead. An open breaker becomes a 503 with Retry-After for the service's clients.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { BulwarkError, CircuitOpenError, createOllama } from 'bulwark';

const sim = await startOllamaSim({
  models: ['llama3.2', 'qwen3'],
  faults: [{ model: 'qwen3', status: 500 }],
});
const ollama = createOllama({
  host: sim.url,
  maxRetries: 0,
  breaker: { halfOpenAfterMs: 30_000 },
  bulkhead: { limit: 4, queue: 16 },
});

const service = createServer(async (request, response) => {
  const model = new URL(request.url ?? '/', 'http://service').searchParams.get('model') ?? 'llama3.2';
  try {
    const answer = await ollama.chat({ model, messages: [{ role: 'user', content: 'Say hi' }] });
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ text: answer.message.content }));
  } catch (error) {
    if (error instanceof CircuitOpenError) {
      const seconds = Math.max(
        1,
        Math.ceil(((error.retryAt ?? 0) - (performance.timeOrigin + performance.now())) / 1000),
      );
      response
        .writeHead(503, { 'retry-after': String(seconds) })
        .end(`${model} is unavailable; retry in ${seconds} s`);
    } else {
      response.writeHead(502).end(BulwarkError.is(error) ? error.code : 'upstream failed');
    }
  }
});
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;

for (const model of ['llama3.2', 'qwen3', 'qwen3', 'qwen3', 'qwen3', 'qwen3', 'qwen3', 'llama3.2']) {
  const response = await fetch(`${base}/chat?model=${model}`);
  const retryAfter = response.headers.get('retry-after');
  console.log(`${model}: ${response.status}${retryAfter ? ` (Retry-After: ${retryAfter})` : ''}`);
  await response.text();
}

service.close();
await ollama.close();
await sim.close();
