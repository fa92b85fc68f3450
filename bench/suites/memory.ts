import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Ollama } from '@bulwark/ollama';
import { ask, fullPipeline } from '../lib/contenders.js';
import type { SimProcess } from '../lib/sim-process.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
};

export interface MemoryResult {
  openStreams: number;
  heapPerStreamsMiB: number;
  rssPerStreamsMiB: number;
  heapAfterFewMiB: number;
  heapAfterManyMiB: number;
  few: number;
  many: number;
}

/** Heap and RSS with many open streams; heap after few and many sequential calls. */
export async function memory(
  sim: SimProcess,
  options: { streams: number; few: number; many: number },
): Promise<MemoryResult> {
  await sim.setFaults([{ route: '/api/chat', kind: 'stall', afterChunks: 1 }]);
  const client = new Ollama({ host: sim.url, policy: fullPipeline(), connections: options.streams });
  await settle();
  const before = process.memoryUsage();
  const streams = await Promise.all(
    Array.from({ length: options.streams }, () => client.chat({ ...ask(), stream: true })),
  );
  for (const stream of streams) await stream.next();
  await settle();
  const open = process.memoryUsage();
  for (const stream of streams) stream.abort();
  await client.close();
  await sim.setFaults([]);

  const sequential = new Ollama({ host: sim.url, policy: fullPipeline() });
  let done = 0;
  const runUntil = async (count: number) => {
    while (done < count) {
      await sequential.chat(ask());
      done++;
    }
    await settle();
    return process.memoryUsage().heapUsed;
  };
  const afterFew = await runUntil(options.few);
  const afterMany = await runUntil(options.many);
  await sequential.close();
  return {
    openStreams: options.streams,
    heapPerStreamsMiB: (open.heapUsed - before.heapUsed) / MiB,
    rssPerStreamsMiB: (open.rss - before.rss) / MiB,
    heapAfterFewMiB: afterFew / MiB,
    heapAfterManyMiB: afterMany / MiB,
    few: options.few,
    many: options.many,
  };
}
