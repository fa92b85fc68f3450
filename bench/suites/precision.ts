import { type Policy, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { timeout } from '@bulwark/timeout';
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

/** (fired − budget) in ms for first-token, idle and total budgets against a hung or stalled server. */
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
  const rows: PrecisionRow[] = [];
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
