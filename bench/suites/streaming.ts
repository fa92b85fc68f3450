import { Ollama } from '@bulwark/ollama';
import { Ollama as OfficialOllama } from 'ollama';
import { ask } from '../lib/contenders.js';
import { createRawClient } from '../lib/raw-undici.js';
import { type Summary, summarize } from '../lib/stats.js';

/**
 * Chunks per second of long streamed answers (`num_predict` chunks each). A round streams answers
 * one after another for at least `roundMs`, so that one answer's noise does not decide it.
 */
export async function streaming(
  url: string,
  options: { chunks: number; rounds: number; roundMs: number },
): Promise<Record<string, Summary>> {
  const request = { ...ask('stream'), model: 'long', options: { num_predict: options.chunks } };
  const rawClient = createRawClient(url);
  const officialClient = new OfficialOllama({ host: url });
  const bulwarkClient = new Ollama({ host: url });
  const contenders: Array<[string, () => Promise<number>]> = [
    ['raw undici line reader', () => rawClient.streamChunks(request)],
    [
      'official ollama',
      async () => {
        let n = 0;
        for await (const _ of await officialClient.chat({ ...request, stream: true })) n++;
        return n;
      },
    ],
    [
      'bulwark',
      async () => {
        let n = 0;
        for await (const _ of await bulwarkClient.chat({ ...request, stream: true })) n++;
        return n;
      },
    ],
  ];
  const rounds = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
  try {
    for (let round = 0; round <= options.rounds; round++) {
      for (const [name, run] of contenders) {
        const started = performance.now();
        let chunks = 0;
        do chunks += await run();
        while (performance.now() - started < options.roundMs);
        const perSecond = chunks / ((performance.now() - started) / 1000);
        if (round > 0) rounds.get(name)?.push(perSecond);
      }
    }
  } finally {
    await rawClient.close();
    await bulwarkClient.close();
  }
  return Object.fromEntries([...rounds].map(([name, values]) => [name, summarize(values)]));
}
