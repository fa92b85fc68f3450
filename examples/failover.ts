// Two Ollama hosts, one failing: a per-host breaker ejects the bad one and calls keep succeeding.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { BulwarkError, ConsecutiveBreaker, circuitBreaker, Ollama } from 'bulwark';

const primary = await startOllamaSim({ faults: [{ route: '/api/chat', status: 500 }] });
const secondary = await startOllamaSim();
const breaker = circuitBreaker({
  key: 'host',
  breaker: () => new ConsecutiveBreaker(2),
  halfOpenAfterMs: 10_000,
});
breaker.onStateChange(({ key, to }) => console.log(`breaker for ${key}: ${to}`));
const hosts = [primary.url, secondary.url].map((host) => new Ollama({ host, policy: breaker }));

/** Tries each host in order; a failing or ejected host passes the call to the next. */
async function chat(content: string) {
  let last: unknown;
  for (const ollama of hosts) {
    try {
      return {
        host: ollama.host,
        answer: await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content }] }),
      };
    } catch (error) {
      if (!BulwarkError.is(error)) throw error;
      last = error;
    }
  }
  throw last;
}

let served = 0;
for (let i = 0; i < 6; i++) {
  const { host } = await chat(`question ${i}`);
  served++;
  console.log(`call ${i + 1}: answered by ${host === secondary.url ? 'secondary' : 'primary'}`);
}
const chats = primary.requests.filter((request) => request.route === '/api/chat').length;
console.log(`${served} of 6 calls answered; the primary saw ${chats} chat requests`);

await Promise.all(hosts.map((ollama) => ollama.close()));
await primary.close();
await secondary.close();
