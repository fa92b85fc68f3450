import { MODEL } from '../lib/contenders.js';
import { type Summary, summarize } from '../lib/stats.js';
import { createWireClient } from '../lib/wire-client.js';

export interface SimulatorResult {
  /** Small non-streamed chats answered per second. */
  chatsPerSecond: Summary;
  /** NDJSON lines streamed per second on one connection. */
  chunksPerSecond: Summary;
}

/**
 * What the simulator itself can serve, so that it is never the bottleneck of the other suites:
 * driven by a bare socket client that does next to no work per answer.
 */
export async function simulatorCapacity(
  url: string,
  options: { rounds: number; durationMs: number; connections: number; chunks: number },
): Promise<SimulatorResult> {
  const chats = await createWireClient(url, {
    path: '/api/chat',
    body: { model: MODEL, messages: [{ role: 'user', content: 'benchmark' }], stream: false },
    connections: options.connections,
  });
  const stream = await createWireClient(url, {
    path: '/api/chat',
    body: {
      model: 'long',
      messages: [{ role: 'user', content: 'stream' }],
      options: { num_predict: options.chunks },
    },
    connections: 1,
  });
  const chatRounds: number[] = [];
  const chunkRounds: number[] = [];
  try {
    await chats.run(100);
    await stream.run(100);
    for (let round = 0; round < options.rounds; round++) {
      const answered = await chats.run(options.durationMs);
      chatRounds.push(answered.answers / answered.seconds);
      const streamed = await stream.run(options.durationMs);
      chunkRounds.push(streamed.lines / streamed.seconds);
    }
  } finally {
    chats.close();
    stream.close();
  }
  return { chatsPerSecond: summarize(chatRounds), chunksPerSecond: summarize(chunkRounds) };
}
