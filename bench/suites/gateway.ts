import { ask } from '../lib/contenders.js';
import { startGatewayProcess } from '../lib/gateway-process.js';
import { createRawClient } from '../lib/raw-undici.js';
import { quantile, type Summary, summarize } from '../lib/stats.js';

export interface GatewayResult {
  /** Sequential small chats, p50 latency per round (ms), direct and through the gateway. */
  directP50Ms: Summary;
  gatewayP50Ms: Summary;
  /** p50 through the gateway minus p50 direct, per round (ms). */
  addedP50Ms: Summary;
  /** Streamed chunks per second of long answers, direct and through the gateway. */
  directChunksPerSecond: Summary;
  gatewayChunksPerSecond: Summary;
}

/**
 * The gateway (its own process, default pipeline) against a direct connection to the same
 * simulator, with the same hand-written undici client on both sides: added latency per call
 * (sequential, so queueing does not hide it) and streaming throughput.
 */
export async function gatewayOverhead(
  url: string,
  options: { rounds: number; calls: number; chunks: number },
): Promise<GatewayResult> {
  const gateway = await startGatewayProcess(url);
  const direct = createRawClient(url, 4);
  const through = createRawClient(gateway.url, 4);
  const stream = { ...ask('stream'), model: 'long', options: { num_predict: options.chunks } };
  const latencies = async (client: ReturnType<typeof createRawClient>) => {
    const times: number[] = [];
    for (let call = 0; call < options.calls; call++) {
      const started = performance.now();
      await client.chat(ask());
      times.push(performance.now() - started);
    }
    return quantile(times, 0.5);
  };
  const chunksPerSecond = async (client: ReturnType<typeof createRawClient>) => {
    const started = performance.now();
    const chunks = await client.streamChunks(stream);
    return chunks / ((performance.now() - started) / 1000);
  };
  const directP50: number[] = [];
  const gatewayP50: number[] = [];
  const added: number[] = [];
  const directRate: number[] = [];
  const gatewayRate: number[] = [];
  try {
    for (let round = 0; round <= options.rounds; round++) {
      // Alternate which side goes first, so neither always gets the warmer process.
      const [a, b] = round % 2 === 0 ? [direct, through] : [through, direct];
      const first = await latencies(a);
      const second = await latencies(b);
      const [d, g] = a === direct ? [first, second] : [second, first];
      const rateFirst = await chunksPerSecond(a);
      const rateSecond = await chunksPerSecond(b);
      const [dr, gr] = a === direct ? [rateFirst, rateSecond] : [rateSecond, rateFirst];
      if (round === 0) continue; // warm-up
      directP50.push(d);
      gatewayP50.push(g);
      added.push(g - d);
      directRate.push(dr);
      gatewayRate.push(gr);
    }
  } finally {
    await direct.close();
    await through.close();
    await gateway.close();
  }
  return {
    directP50Ms: summarize(directP50),
    gatewayP50Ms: summarize(gatewayP50),
    addedP50Ms: summarize(added),
    directChunksPerSecond: summarize(directRate),
    gatewayChunksPerSecond: summarize(gatewayRate),
  };
}
