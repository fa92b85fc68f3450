import {
  type Context,
  type Policy,
  ProtocolError,
  ResponseError,
  StreamError,
  TimeoutError,
} from '@bulwark/core';
import { request } from 'undici';

/**
 * A small Ollama transport for tests, shaped like the client's contract with the policy: every call
 * runs through `policy.execute` with `operation`, `model`, `host`, `provider: 'ollama'` and the
 * `request`; a stream commits at its first chunk and the operation resolves with the final
 * `done: true` line once the last chunk is read; a consumer's `break` aborts the call's signal and
 * the call rejects with that reason.
 */

type Fields = Record<string, unknown>;

export interface StandInStream {
  /** The chunks, as the caller reads them. */
  chunks: AsyncIterableIterator<Fields>;
  /** The value the policy operation resolved with (the final line). */
  final: Promise<Fields>;
}

/** Why a stream stopped when the consumer left it. */
export class ConsumerStoppedError extends Error {
  constructor() {
    super('The consumer stopped reading the stream');
    this.name = 'ConsumerStoppedError';
  }
}

function attributes(host: string, operation: string, body: Fields) {
  return { operation, model: body.model as string, host, provider: 'ollama', request: body };
}

async function* lines(body: AsyncIterable<Buffer>): AsyncGenerator<Fields> {
  let buffer = '';
  for await (const piece of body) {
    buffer += piece.toString('utf8');
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') yield JSON.parse(line) as Fields;
      newline = buffer.indexOf('\n');
    }
  }
  if (buffer.trim() !== '') yield JSON.parse(buffer) as Fields;
}

async function post(context: Context, url: string, body: Fields, headers: Record<string, string>) {
  const response = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    signal: context.signal,
  });
  if (response.statusCode >= 400) {
    const text = await response.body.text();
    let serverMessage: string | undefined;
    try {
      serverMessage = (JSON.parse(text) as { error?: string }).error;
    } catch {
      serverMessage = text;
    }
    throw new ResponseError({ status: response.statusCode, serverMessage, model: body.model as string });
  }
  return response;
}

/** A streamed `/api/chat` (or `/api/generate`) through `policy`. */
export function streamCall(
  policy: Policy,
  host: string,
  body: Fields,
  options: { route?: string; operation?: string; headers?: Record<string, string> } = {},
): StandInStream {
  const controller = new AbortController();
  const queue: Fields[] = [];
  let wake: (() => void) | undefined;
  let taken: (() => void) | undefined;
  let finished = false;
  let failure: unknown;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const requestBody = { ...body, stream: true };
  const final = policy.execute(
    async (context: Context) => {
      const firstTokenMs = context.budgets.firstTokenMs;
      let timer: NodeJS.Timeout | undefined;
      const attempt = new AbortController();
      const onAbort = () => attempt.abort(context.signal.reason);
      context.signal.addEventListener('abort', onAbort, { once: true });
      const attemptContext = context.with({ signal: attempt.signal });
      if (firstTokenMs !== undefined) {
        timer = setTimeout(
          () =>
            attempt.abort(
              new TimeoutError({
                phase: 'first-token',
                timeoutMs: firstTokenMs,
                elapsedMs: firstTokenMs,
                attempt: context.attempt,
                maxAttempts: context.maxAttempts,
              }),
            ),
          firstTokenMs,
        );
      }
      try {
        const response = await post(
          attemptContext,
          `${host}${options.route ?? '/api/chat'}`,
          requestBody,
          options.headers ?? {},
        );
        let last: Fields | undefined;
        for await (const line of lines(response.body)) {
          if (typeof line.error === 'string')
            throw new StreamError({ serverMessage: line.error, committed: context.committed });
          if (line.done === true) {
            last = line;
            break;
          }
          clearTimeout(timer);
          queue.push(line);
          context.commit();
          notify();
          // Hand-off: the next line is read only once the caller took this one, so the attempt
          // lasts as long as the caller reads.
          await new Promise<void>((resolve) => {
            taken = resolve;
            if (attempt.signal.aborted) resolve();
            else attempt.signal.addEventListener('abort', () => resolve(), { once: true });
          });
          if (attempt.signal.aborted) throw attempt.signal.reason;
        }
        if (!last)
          throw new ProtocolError('The stream ended without its final line', {
            committed: context.committed,
          });
        return last;
      } catch (error) {
        if (attempt.signal.aborted) throw attempt.signal.reason;
        throw error;
      } finally {
        clearTimeout(timer);
        context.signal.removeEventListener('abort', onAbort);
      }
    },
    { signal: controller.signal, attributes: attributes(host, options.operation ?? 'chat', requestBody) },
  );
  final.then(
    () => {
      finished = true;
      notify();
    },
    (error: unknown) => {
      failure = error;
      finished = true;
      notify();
    },
  );
  const chunks: AsyncIterableIterator<Fields> = {
    async next() {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          taken?.();
          taken = undefined;
          return { value: chunk, done: false };
        }
        if (finished) {
          if (failure !== undefined && !controller.signal.aborted) throw failure;
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      if (!finished) controller.abort(new ConsumerStoppedError());
      await final.catch(() => {});
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { chunks, final };
}

/** A non-streamed call (`/api/embed`, or chat with `stream: false`) through `policy`. */
export function plainCall(
  policy: Policy,
  host: string,
  route: string,
  operation: string,
  body: Fields,
  headers: Record<string, string> = {},
): Promise<Fields> {
  return policy.execute(
    async (context: Context) => {
      const response = await post(context, `${host}${route}`, body, headers);
      return (await response.body.json()) as Fields;
    },
    { attributes: attributes(host, operation, body) },
  );
}
