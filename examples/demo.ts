// `pnpm start`: what each Bulwark policy does, against the embedded Ollama simulator (or, with
// OLLAMA_HOST set, the healthy part against that server). Finishes in well under a minute.
import { startOllamaSim } from '@bulwark/ollama-sim';
import {
  BulwarkError,
  bulkhead,
  ConsecutiveBreaker,
  circuitBreaker,
  Ollama,
  type Policy,
  retry,
  type TimeoutError,
  timeout,
  wrap,
} from 'bulwark';

const external = process.env.OLLAMA_HOST;
const model = process.env.OLLAMA_MODEL ?? 'llama3.2';
const tty = process.stdout.isTTY === true;
const summary = {
  calls: 0,
  ok: 0,
  failed: 0,
  retries: 0,
  timeouts: new Map<string, number>(),
  latencies: [] as number[],
};
const breakerStates = new Map<string, { state: string; opened: number }>();
const bulkheadTotals = { served: 0, rejected: 0, maxInFlight: 0 };
const startedAt = performance.now();

// The live view: one status line redrawn while a scene runs (TTY only; plain lines otherwise).
let status: string | undefined;
const draw = () => {
  if (!tty || status === undefined) return;
  const elapsed = ((performance.now() - startedAt) / 1000).toFixed(1);
  process.stdout.write(
    `\r\x1b[K  … ${status}  │ ${summary.calls} calls, ${summary.retries} retries, ${elapsed} s`,
  );
};
const ticker = tty ? setInterval(draw, 100) : undefined;
ticker?.unref();
const say = (line: string) => {
  if (tty) process.stdout.write('\r\x1b[K');
  console.log(line);
  draw();
};
const progress = (line: string | undefined) => {
  status = line;
  if (tty && line === undefined) process.stdout.write('\r\x1b[K');
  draw();
};
const heading = (title: string) => say(`\n▶ ${title}`);

/** Runs one call, timing it and counting its outcome. */
async function call<T>(run: () => Promise<T>): Promise<T | BulwarkError | Error> {
  const started = performance.now();
  summary.calls++;
  try {
    const value = await run();
    summary.ok++;
    return value;
  } catch (error) {
    summary.failed++;
    if (BulwarkError.is(error) && error.code === 'ERR_BULWARK_TIMEOUT') {
      const phase = (error as TimeoutError).phase;
      summary.timeouts.set(phase, (summary.timeouts.get(phase) ?? 0) + 1);
    }
    return error as Error;
  } finally {
    summary.latencies.push(performance.now() - started);
  }
}

function client(host: string, policy: Policy): Ollama {
  return new Ollama({ host, policy });
}

const ask = (name: string, content = 'Why is the sky blue?') => ({
  model: name,
  messages: [{ role: 'user', content }],
});

async function healthyStream(host: string): Promise<void> {
  heading('A healthy streamed answer, with first-token and idle budgets');
  const ollama = client(
    host,
    wrap(timeout({ totalMs: 60_000 }), retry(), timeout({ firstTokenMs: 30_000, idleMs: 10_000 })),
  );
  let text = '';
  const outcome = await call(async () => {
    for await (const part of await ollama.chat({ ...ask(model), stream: true })) {
      text += part.message.content;
      if (tty) process.stdout.write(part.message.content);
    }
  });
  if (!tty) say(`  ${text.trim()}`);
  else process.stdout.write('\n');
  say(outcome instanceof Error ? `  ✗ ${outcome.message}` : `  ✓ ${text.length} characters streamed`);
  await ollama.close();
}

async function hungServer(sim: Awaited<ReturnType<typeof startOllamaSim>>): Promise<void> {
  heading('A hung server: no byte ever comes back');
  sim.setFaults([{ route: '/api/chat', kind: 'hang' }]);
  const policy = retry({ maxAttempts: 2, initialDelayMs: 100 });
  policy.onRetry(({ attempt, delayMs, error }) => {
    summary.retries++;
    say(
      `  retry: attempt ${attempt + 1} failed (${(error as Error).message}); next in ${Math.round(delayMs)} ms`,
    );
  });
  const ollama = client(sim.url, wrap(policy, timeout({ firstTokenMs: 1_000 })));
  const started = performance.now();
  progress('waiting for a first token (budget 1000 ms per attempt)');
  const outcome = await call(() => ollama.chat(ask(model)));
  progress(undefined);
  say(`  ✓ caught after ${Math.round(performance.now() - started)} ms: ${(outcome as Error).message}`);
  say('    (without a budget, the official clients would wait for hours)');
  sim.clearFaults();
  await ollama.close();
}

async function busyStorm(sim: Awaited<ReturnType<typeof startOllamaSim>>): Promise<void> {
  heading('A 503 storm: "server busy, please try again"');
  sim.setFaults([{ route: '/api/chat', status: 503, nth: 1, times: 3 }]);
  const policy = retry({ maxAttempts: 5, initialDelayMs: 100 });
  policy.onRetry(({ attempt, delayMs }) => {
    summary.retries++;
    say(`  503 on attempt ${attempt + 1}: backing off ${Math.round(delayMs)} ms`);
  });
  const ollama = client(sim.url, wrap(timeout({ totalMs: 20_000 }), policy));
  progress('calling through the storm');
  const outcome = await call(() => ollama.chat(ask(model)));
  progress(undefined);
  say(outcome instanceof Error ? `  ✗ ${outcome.message}` : '  ✓ answered once the storm passed');
  sim.clearFaults();
  await ollama.close();
}

async function failingModel(sim: Awaited<ReturnType<typeof startOllamaSim>>): Promise<void> {
  heading('One model keeps failing (500); another stays healthy');
  sim.setFaults([{ model: 'qwen3', status: 500, message: 'model runner has unexpectedly stopped' }]);
  const breaker = circuitBreaker({
    key: 'model',
    breaker: () => new ConsecutiveBreaker(3),
    halfOpenAfterMs: 1_500,
  });
  breaker.onStateChange(({ key, from, to }) => {
    const opened = (breakerStates.get(key)?.opened ?? 0) + (to === 'open' ? 1 : 0);
    breakerStates.set(key, { state: to, opened });
    say(`  breaker ${key}: ${from} → ${to}`);
  });
  const ollama = client(sim.url, breaker);
  let fastFails = 0;
  let healthy = 0;
  for (let i = 0; i < 8; i++) {
    progress(`call ${i + 1} of 8 to each model`);
    const sick = await call(() => ollama.chat(ask('qwen3')));
    if (BulwarkError.is(sick) && sick.code === 'ERR_BULWARK_CIRCUIT_OPEN') fastFails++;
    const well = await call(() => ollama.chat(ask(model)));
    if (!(well instanceof Error)) healthy++;
  }
  say(
    `  ✓ qwen3: ${fastFails} calls failed fast without reaching the server; ${model}: ${healthy} of 8 answered`,
  );
  progress(undefined);
  sim.clearFaults();
  progress('fault lifted; waiting for the breaker to let a probe through');
  await new Promise((resolve) => setTimeout(resolve, 1_600));
  progress(undefined);
  const probe = await call(() => ollama.chat(ask('qwen3')));
  say(
    probe instanceof Error
      ? `  ✗ probe: ${probe.message}`
      : '  ✓ after the fault was lifted, one probe closed the breaker',
  );
  await ollama.close();
}

async function burst(sim: Awaited<ReturnType<typeof startOllamaSim>>): Promise<void> {
  heading('A burst of 20 calls against a bulkhead of 2 running + 6 queued');
  const limit = bulkhead({ key: 'model', limit: 2, queue: 6 });
  let rejected = 0;
  limit.onRejected(() => {
    rejected++;
  });
  const ollama = client(sim.url, limit);
  // Warm the model first: a load the client owns runs outside the bulkhead.
  await ollama.load(model);
  sim.resetStats();
  const calls = Array.from({ length: 20 }, (_, i) => call(() => ollama.chat(ask(model, `burst ${i}`))));
  const timer = setInterval(() => {
    const stats = limit.state(model);
    progress(`running ${stats.running}, queued ${stats.queued}, rejected ${stats.rejected}`);
  }, 50);
  const outcomes = await Promise.all(calls);
  clearInterval(timer);
  progress(undefined);
  const served = outcomes.filter((outcome) => !(outcome instanceof Error)).length;
  bulkheadTotals.served = served;
  bulkheadTotals.rejected = rejected;
  bulkheadTotals.maxInFlight = sim.stats(model).maxInFlight;
  say(
    `  ✓ ${served} served, ${rejected} turned away at once; the server never saw more than ${sim.stats(model).maxInFlight} at a time`,
  );
  await ollama.close();
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

function printSummary(): void {
  const timeouts = [...summary.timeouts].map(([phase, count]) => `${phase} ${count}`).join(', ') || 'none';
  const breakers =
    [...breakerStates].map(([key, { state, opened }]) => `${key} ${state} (opened ${opened}×)`).join(', ') ||
    'none opened';
  const rows: Array<[string, string]> = [
    ['calls', `${summary.calls} (${summary.ok} ok, ${summary.failed} failed)`],
    ['retries', String(summary.retries)],
    ['timeouts by phase', timeouts],
    ['breakers', breakers],
    [
      'bulkhead',
      external
        ? 'not run'
        : `${bulkheadTotals.served} served, ${bulkheadTotals.rejected} rejected, at most ${bulkheadTotals.maxInFlight} in flight`,
    ],
    [
      'latency p50 / p99',
      `${Math.round(percentile(summary.latencies, 0.5))} ms / ${Math.round(percentile(summary.latencies, 0.99))} ms`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  say('\nSummary');
  for (const [name, value] of rows) say(`  ${name.padEnd(width)}  ${value}`);
}

if (external) {
  say(`Bulwark demo against ${external} (model ${model}; set OLLAMA_MODEL to change it)`);
  await healthyStream(external);
} else {
  const sim = await startOllamaSim({ models: [model, 'qwen3'], numParallel: 8, tokenDelayMs: 15 });
  say(`Bulwark demo against the embedded Ollama simulator at ${sim.url} (set OLLAMA_HOST for a real server)`);
  try {
    await healthyStream(sim.url);
    await hungServer(sim);
    await busyStorm(sim);
    await failingModel(sim);
    await burst(sim);
  } finally {
    await sim.close();
  }
}
if (ticker) clearInterval(ticker);
printSummary();
