import { type Policy, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { timeout } from '@bulwark/timeout';
import { startUnacceptedListener } from '../../test/support/unaccepted-listener.js';
import { ask } from '../lib/contenders.js';
import type { SimProcess } from '../lib/sim-process.js';
import { quantile } from '../lib/stats.js';

export interface PrecisionRow {
  budget: string;
  budgetMs: number;
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * (fired − budget) in ms for the connect budget against a loopback listener with a full backlog,
 * and for first-token, idle and total budgets against a hung or stalled server.
 */
export async function precision(
  sim: SimProcess,
  options: { samples: number; budgetMs: number; batch: number },
): Promise<PrecisionRow[]> {
  const { budgetMs } = options;
  const cases: Array<[string, unknown[], Policy, boolean]> = [
    ['first-token', [{ route: '/api/chat', kind: 'hang' }], timeout({ firstTokenMs: budgetMs }), false],
    ['idle', [{ route: '/api/chat', kind: 'stall', afterChunks: 2 }], timeout({ idleMs: budgetMs }), true],
    ['total', [{ route: '/api/chat', kind: 'hang' }], wrap(timeout({ totalMs: budgetMs })), false],
  ];
  const rows: PrecisionRow[] = [await connectPrecision(options)];
  for (const [name, faults, policy, streamed] of cases) {
    await sim.setFaults(faults);
    const client = new Ollama({ host: sim.url, policy, connections: options.batch });
    const lateness: number[] = [];
    while (lateness.length < options.samples) {
      const batch = Math.min(options.batch, options.samples - lateness.length);
      await Promise.all(
        Array.from({ length: batch }, async () => {
          let firedAt = 0;
          let startedAt = performance.now();
          try {
            if (streamed) {
              const stream = await client.chat({ ...ask(), stream: true });
              for await (const _ of stream) startedAt = performance.now();
            } else {
              await client.chat(ask());
            }
          } catch {
            firedAt = performance.now();
          }
          if (firedAt === 0) throw new Error(`${name}: the budget never fired`);
          lateness.push(firedAt - startedAt - budgetMs);
        }),
      );
    }
    await client.close();
    rows.push({
      budget: name,
      budgetMs,
      samples: lateness.length,
      p50: quantile(lateness, 0.5),
      p99: quantile(lateness, 0.99),
      max: Math.max(...lateness),
    });
  }
  await sim.setFaults([]);
  return rows;
}

/** The connect budget against a listener that never accepts: every connection attempt hangs. */
async function connectPrecision(options: {
  samples: number;
  budgetMs: number;
  batch: number;
}): Promise<PrecisionRow> {
  const { budgetMs } = options;
  const listener = await startUnacceptedListener();
  const client = new Ollama({
    host: `http://127.0.0.1:${listener.port}`,
    policy: timeout({ connectMs: budgetMs }),
    connections: options.batch,
  });
  const lateness: number[] = [];
  try {
    while (lateness.length < options.samples) {
      const batch = Math.min(options.batch, options.samples - lateness.length);
      await Promise.all(
        Array.from({ length: batch }, async () => {
          const startedAt = performance.now();
          const error = await client.version().then(
            () => undefined,
            (caught: unknown) => caught,
          );
          if ((error as { phase?: unknown } | undefined)?.phase !== 'connect') {
            throw new Error(`connect: expected a connect timeout, got ${String(error)}`);
          }
          lateness.push(performance.now() - startedAt - budgetMs);
        }),
      );
    }
  } finally {
    await client.close();
    await listener.close();
  }
  return {
    budget: 'connect',
    budgetMs,
    samples: lateness.length,
    p50: quantile(lateness, 0.5),
    p99: quantile(lateness, 0.99),
    max: Math.max(...lateness),
  };
}
