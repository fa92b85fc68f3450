// OpenTelemetry spans of a retried chat, printed to the console: the GenAI span of the call, one
// span per attempt (the first two fail with the simulator's 503 "server busy"), the retry events,
// and the HTTP spans of @opentelemetry/instrumentation-undici under each attempt.
//
// Run: npx tsx --conditions=bulwark-source examples/otel-console.ts
import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { instrument, startSpanHook } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { ConsoleSpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

// The SDK: spans to the console, context through async calls.
const provider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);

// HTTP spans for undici requests, with http.request.resend_count on retried attempts.
const http = new UndiciInstrumentation({ startSpanHook });
http.setTracerProvider(provider);
http.enable();

// An Ollama stand-in that answers the first two chats with 503.
const sim = await startOllamaSim({ faults: [{ route: '/api/chat', status: 503, times: 2 }] });

const ollama = new Ollama({
  host: process.env.OLLAMA_HOST ?? sim.url,
  policy: wrap(
    retry({ maxAttempts: 3, initialDelayMs: 50 }),
    timeout({ firstTokenMs: 30_000, idleMs: 10_000 }),
  ),
  instrument,
});

try {
  const answer = await ollama.chat({
    model: 'llama3.2',
    messages: [{ role: 'user', content: 'Why is the sky blue?' }],
  });
  console.log(`\nanswer: ${answer.message.content}`);
} finally {
  await ollama.close();
  await sim.close();
  http.disable();
  await provider.shutdown();
}
