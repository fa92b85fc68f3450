import { Ollama } from '@bulwark/ollama';
import { retry } from '@bulwark/retry';
import { quantile, type Summary, summarize } from '../lib/stats.js';

export interface FleetRow {
  name: string;
  /** Time to first chunk, p99 over one round's calls, ms. */
  p99FirstChunkMs: Summary;
  perSecond: Summary;
  failedShare: number;
}

export interface FleetUrls {
  fast: string;
  slow: string;
  failing: string;
}

const ask = (index: number) => ({
  model: 'llama3.2',
  messages: [{ role: 'user', content: `fleet question ${index}` }],
  stream: true as const,
});
/** Requests each simulator runs at once. */
const SLOTS = 4;
const policy = () => retry({ maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 });

/** One streamed chat; resolves with its time to first chunk, or `undefined` when it failed. */
async function timed(client: Ollama, index: number): Promise<number | undefined> {
  const started = performance.now();
  let first: number | undefined;
  try {
    for await (const _ of await client.chat(ask(index))) {
      if (first === undefined) first = performance.now() - started;
    }
    return first;
  } catch {
    return undefined;
  }
}

/**
 * Routing across three hosts (one fast, one with 5× its token delay, one failing 20 % of calls):
 * p99 time to first chunk and calls/s of `calls` streamed chats at `concurrency`, for round-robin,
 * least-outstanding without model awareness, Bulwark's routing with and without hedging, and an
 * oracle sending everything to the fast host. Every contender retries 3 times.
 */
export async function fleetRouting(
  urls: FleetUrls,
  options: { rounds: number; calls: number; concurrency: number },
): Promise<FleetRow[]> {
  const hosts = [urls.fast, urls.slow, urls.failing];
  const singles = hosts.map((host) => new Ollama({ host, policy: policy() }));
  const inFlight = singles.map(() => 0);
  let turn = 0;
  // Each simulator runs 4 requests at once (OLLAMA_NUM_PARALLEL=4): the fleet is told so.
  const fleetHosts = hosts.map((host) => ({ host, capacity: SLOTS }));
  const bulwark = new Ollama({ hosts: fleetHosts, policy: policy() });
  const hedged = new Ollama({
    hosts: fleetHosts,
    policy: policy(),
    hedge: { percentile: 90, minSamples: 20, maxShare: 0.2 },
  });
  const oracle = new Ollama({ host: urls.fast, policy: policy() });
  for (const client of [bulwark, hedged]) {
    await Promise.all(hosts.map((host) => client.load('llama3.2', { host })));
  }
  const leastOutstanding = async (index: number) => {
    let best = 0;
    for (let i = 1; i < singles.length; i++)
      if ((inFlight[i] as number) < (inFlight[best] as number)) best = i;
    inFlight[best] = (inFlight[best] as number) + 1;
    try {
      return await timed(singles[best] as Ollama, index);
    } finally {
      inFlight[best] = (inFlight[best] as number) - 1;
    }
  };
  const contenders: Array<[string, (index: number) => Promise<number | undefined>]> = [
    ['round-robin', (index) => timed(singles[turn++ % singles.length] as Ollama, index)],
    ['least-outstanding, no model awareness', leastOutstanding],
    ['bulwark routing', (index) => timed(bulwark, index)],
    ['bulwark routing + hedging', (index) => timed(hedged, index)],
    ['oracle (fast host only)', (index) => timed(oracle, index)],
  ];
  const rows: FleetRow[] = [];
  try {
    for (const [name, call] of contenders) {
      const p99: number[] = [];
      const perSecond: number[] = [];
      let failed = 0;
      let total = 0;
      for (let round = 0; round <= options.rounds; round++) {
        const times: number[] = [];
        let next = 0;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: options.concurrency }, async () => {
            while (next < options.calls) {
              const ms = await call(next++);
              if (ms === undefined) failed += round > 0 ? 1 : 0;
              else times.push(ms);
            }
          }),
        );
        // Round 0 warms up (and lets hedging learn its delay).
        if (round === 0) continue;
        total += options.calls;
        p99.push(quantile(times, 0.99));
        perSecond.push((options.calls * 1_000) / (performance.now() - started));
      }
      rows.push({
        name,
        p99FirstChunkMs: summarize(p99),
        perSecond: summarize(perSecond),
        failedShare: failed / total,
      });
    }
  } finally {
    await Promise.all([...singles, bulwark, hedged, oracle].map((client) => client.close()));
  }
  return rows;
}

/**
 * Starts the three simulators in their own processes, runs {@link fleetRouting}, prints its table
 * and reports the targets through `target`.
 */
export async function runFleetSuite(
  config: { rounds: number; calls: number; concurrency: number },
  target: (what: string, value: number, limit: number, above: boolean) => void,
): Promise<FleetRow[]> {
  const { startSimProcess } = await import('../lib/sim-process.js');
  const { renderTable } = await import('../lib/table.js');
  const { formatNumber } = await import('../lib/stats.js');
  const base = { models: ['llama3.2'], numParallel: SLOTS, replyTokens: 20, requestLogLimit: 0 };
  const sims = await Promise.all([
    startSimProcess({ ...base, tokenDelayMs: 2 }),
    startSimProcess({ ...base, tokenDelayMs: 10, promptEvalMs: 10 }),
    startSimProcess({ ...base, tokenDelayMs: 2, faultMix: { busy: 0, hang: 0, error: 0.2, seed: 11 } }),
  ]);
  try {
    const [fast, slow, failing] = sims.map((sim) => sim.url) as [string, string, string];
    const rows = await fleetRouting({ fast, slow, failing }, config);
    const show = (summary: Summary) =>
      `${formatNumber(summary.median, 1)} ±${Math.round(summary.spread * 50)}%`;
    console.log(
      `\n10. Fleet: 3 hosts (fast; 5× token delay; 20 % failing), ${config.calls} streamed chats at concurrency ${config.concurrency}`,
    );
    console.log(
      renderTable(
        ['routing', 'p99 first chunk ms', 'calls/s', 'failed'],
        rows.map((row) => [
          row.name,
          show(row.p99FirstChunkMs),
          show(row.perSecond),
          `${formatNumber(row.failedShare * 100, 1)}%`,
        ]),
      ),
    );
    const p99 = (name: string) =>
      rows.find((row) => row.name.startsWith(name))?.p99FirstChunkMs.median ?? Number.NaN;
    target('fleet: bulwark p99 first chunk / oracle', p99('bulwark routing') / p99('oracle'), 1.2, false);
    target(
      'fleet: round-robin p99 first chunk / bulwark',
      p99('round-robin') / p99('bulwark routing'),
      2,
      true,
    );
    return rows;
  } finally {
    await Promise.all(sims.map((sim) => sim.close()));
  }
}
