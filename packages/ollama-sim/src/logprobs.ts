// `logprobs` / `top_logprobs` as Ollama returns them (api.Logprob, api.TokenLogprob): on every
// token line a `logprobs` list with one entry per token, `{"token","logprob","bytes"}` (the UTF-8
// bytes of the token, left out when it is empty) plus `top_logprobs` (the most likely tokens at
// that position, most likely first) when `top_logprobs` > 0; the final line carries none, and a
// non-streamed answer carries the whole list. Only with `logprobs: true`: `top_logprobs` alone
// returns nothing. The values are made up, but deterministic (a function of the token) and
// consistent: the chosen token is the most likely one, and the probabilities sum below 1.
import { goString } from './go-json.js';
import { hashText } from './simulated-reply.js';

/** Alternatives offered in `top_logprobs` besides the chosen token. */
const ALTERNATIVES = [
  ' the',
  ',',
  '.',
  ' a',
  ' and',
  ' of',
  ' to',
  ' in',
  ' is',
  ' that',
  ' it',
  ' for',
  ' on',
  ' with',
  ' as',
  ' this',
  ' be',
  ' are',
  ' was',
  ' by',
  ' an',
];

/** How many top entries a request asked for, or undefined when it asked for no logprobs. */
export function logprobsRequested(body: Record<string, unknown>): number | undefined {
  if (body.logprobs !== true) return undefined;
  return typeof body.top_logprobs === 'number' ? body.top_logprobs : 0;
}

/** Rounded to 6 decimals: printed the same by Go's encoder and JavaScript. */
const round = (value: number) => Math.round(value * 1e6) / 1e6;

function tokenLogprob(token: string, logprob: number): string {
  let out = `{"token":${goString(token)},"logprob":${logprob}`;
  if (token !== '') out += `,"bytes":[${Array.from(Buffer.from(token, 'utf8')).join(',')}]`;
  return out;
}

const entryCache = new Map<string, string>();

/** One `api.Logprob` entry for a generated token, with `top` alternatives (0 to 20). */
export function logprobEntry(token: string, top: number): string {
  const key = `${top}\u0000${token}`;
  let entry = entryCache.get(key);
  if (entry !== undefined) return entry;
  const hash = hashText(token);
  // The chosen token's probability is between 0.5 and 0.999; the rest is shared by the others,
  // each half as likely as the one before.
  const chosen = 0.5 + (hash % 500) / 1000;
  entry = tokenLogprob(token, round(Math.log(chosen)) || -0.000001);
  if (top > 0) {
    const entries = [entry];
    const offset = hash % ALTERNATIVES.length;
    let rest = 1 - chosen;
    for (let index = 0, pick = 0; entries.length < top; pick++) {
      const alternative = ALTERNATIVES[(offset + pick) % ALTERNATIVES.length] as string;
      if (alternative === token && pick < ALTERNATIVES.length) continue;
      rest /= 2;
      index++;
      entries.push(
        tokenLogprob(
          pick < ALTERNATIVES.length ? alternative : `${alternative}${index}`,
          round(Math.log(rest)),
        ),
      );
    }
    entry += `,"top_logprobs":[${entries.map((item) => `${item}}`).join(',')}]`;
  }
  entry += '}';
  if (entryCache.size > 8192) entryCache.clear();
  entryCache.set(key, entry);
  return entry;
}

/** The `logprobs` list of a line or an answer: one entry per token. */
export function logprobsJson(tokens: readonly string[], top: number): string {
  return `[${tokens.map((token) => logprobEntry(token, top)).join(',')}]`;
}
