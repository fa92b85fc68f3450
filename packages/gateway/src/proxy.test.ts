// The host of each attempt: with several upstreams, each attempt names the upstream it goes to, so a
// breaker keyed by `host` opens for the failing upstream only while the other keeps answering, and
// the errors and metrics name the upstream.
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from './start-gateway.js';
import type { Gateway } from './types.js';

let sims: OllamaSim[] = [];
let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  await Promise.all(sims.map((sim) => sim.close()));
  gateway = undefined;
  sims = [];
});

const chats = (sim: OllamaSim) => sim.requests.filter((entry) => entry.route === '/api/chat').length;

async function chat(url: string, content: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    body: JSON.stringify({
      model: 'llama3.2',
      messages: [{ role: 'user', content }],
      options: { num_predict: 4 },
    }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

describe("a breaker keyed by 'host' over several upstreams", () => {
  it('opens for the failing upstream only; the healthy one keeps answering', async () => {
    const failing = await startOllamaSim({
      models: ['llama3.2'],
      faults: [{ route: '/api/chat', kind: 'status', status: 500 }],
    });
    const healthy = await startOllamaSim({ models: ['llama3.2'] });
    sims = [failing, healthy];
    gateway = await startGateway({
      upstreams: [failing.url, healthy.url],
      port: 0,
      env: {},
      // No retry, and no ejection: every request is routed to either upstream at random.
      maxRetries: 0,
      fleet: { consecutiveFailures: 1_000 },
      breaker: { key: 'host' },
    });
    const answers: Array<{ status: number; body: string }> = [];
    for (let index = 0; index < 40; index++) answers.push(await chat(gateway.url, `call ${index}`));

    // The default breaker opens after 5 failures in a row: no request reached the failing upstream after them.
    expect(chats(failing)).toBe(5);
    const failed = answers.filter((answer) => answer.status === 500);
    expect(failed).toHaveLength(5);
    // The requests routed to it afterwards were refused by its breaker, named after the upstream.
    const refused = answers.filter((answer) => answer.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect((JSON.parse(answer.body) as { error: string }).error).toContain(`"${failing.url}"`);
    }
    const answered = answers.filter((answer) => answer.status === 200);
    expect(answered).toHaveLength(chats(healthy));
    expect(answered.length + failed.length + refused.length).toBe(40);

    const response = await fetch(`${gateway.url}/_bulwark/state`, { signal: AbortSignal.timeout(5_000) });
    const state = (await response.json()) as { breakers: Array<{ key: string; state: string }> };
    const breakers = Object.fromEntries(state.breakers.map((breaker) => [breaker.key, breaker.state]));
    // One breaker per upstream, none for the model.
    expect(breakers).toEqual({ [failing.url]: 'open', [healthy.url]: 'closed' });

    // The calls' metrics name the upstream of their last attempt: every success the healthy one,
    // every failure and refusal the failing one.
    const metricsText = await (
      await fetch(`${gateway.url}/metrics`, { signal: AbortSignal.timeout(5_000) })
    ).text();
    const calls = metricsText
      .split('\n')
      .filter((line) => line.startsWith('bulwark_calls_total{'))
      .map((line) => ({
        port: /server_port="(\d+)"/.exec(line)?.[1],
        outcome: /bulwark_call_outcome="(\w+)"/.exec(line)?.[1],
        errorType: /error_type="([^"]+)"/.exec(line)?.[1],
        count: Number(line.slice(line.lastIndexOf(' ') + 1)),
      }));
    const port = (sim: OllamaSim) => new URL(sim.url).port;
    expect(calls.filter((call) => call.outcome === 'success')).toEqual([
      { port: port(healthy), outcome: 'success', errorType: undefined, count: answered.length },
    ]);
    const errors = calls.filter((call) => call.outcome === 'error');
    expect(errors.map((call) => call.port)).toEqual(errors.map(() => port(failing)));
    expect(Object.fromEntries(errors.map((call) => [call.errorType, call.count]))).toEqual({
      '500': 5,
      ERR_BULWARK_CIRCUIT_OPEN: refused.length,
    });
  }, 30_000);
});
