import { wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { TokenLimitError, tokenRateLimit } from '@bulwark/rate-limit';
import { retry } from '@bulwark/retry';

// 50k tokens a minute per model; a call without num_predict reserves 512 until it reports its use.
const limit = tokenRateLimit({ key: 'model', tokensPerWindow: 50_000, defaultReservation: 512 });
limit.onSettled(({ key, reserved, used }) => console.log(`${key}: reserved ${reserved}, used ${used}`));
const ollama = new Ollama({ policy: wrap(retry(), limit) });
try {
  await ollama.chat({
    model: 'llama3.2',
    messages: [{ role: 'user', content: 'hello' }],
    options: { num_predict: 256 },
  });
} catch (error) {
  if (error instanceof TokenLimitError)
    console.warn(`over the limit; room again in ${error.retryAfterMs} ms`);
}
