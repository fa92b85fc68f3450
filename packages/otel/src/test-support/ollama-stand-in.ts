import { type Context, type Policy, ProtocolError, ResponseError, StreamError } from '@bulwark/core';
import { request } from 'undici';

/**
 * A minimal streamed `/api/chat` through a policy, shaped like the Ollama client's contract with the
 * policy (attributes, a commit at the first chunk, resolving with the final `done: true` line), but
 * handing each chunk over only once the caller took the previous one: the operation lasts until the
 * caller has read the last chunk.
 */

type Fields = Record<string, unknown>;

export interface StandInStream {
  /** The chunks, as the caller reads them. */
  chunks: AsyncIterableIterator<Fields>;
  /** The value the policy operation resolved with (the final line). */
  final: Promise<Fields>;
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

export function streamCall(policy: Policy, host: string, body: Fields): StandInStream {
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
      try {
        const response = await request(`${host}/api/chat`, {
          method: 'POST',
          body: JSON.stringify(requestBody),
          headers: { 'content-type': 'application/json' },
          signal: context.signal,
        });
        if (response.statusCode >= 400) {
          await response.body.dump();
          throw new ResponseError({ status: response.statusCode });
        }
        for await (const line of lines(response.body)) {
          if (typeof line.error === 'string')
            throw new StreamError({ serverMessage: line.error, committed: context.committed });
          if (line.done === true) return line;
          queue.push(line);
          context.commit();
          notify();
          await new Promise<void>((resolve) => {
            taken = resolve;
            context.signal.addEventListener('abort', () => resolve(), { once: true });
          });
          if (context.signal.aborted) throw context.signal.reason;
        }
        throw new ProtocolError('The stream ended without its final line', { committed: context.committed });
      } catch (error) {
        if (context.signal.aborted) throw context.signal.reason;
        throw error;
      }
    },
    {
      signal: controller.signal,
      attributes: {
        operation: 'chat',
        model: body.model as string,
        host,
        provider: 'ollama',
        request: requestBody,
      },
    },
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
          if (failure !== undefined) throw failure;
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return() {
      if (!finished) controller.abort(new Error('The caller stopped reading'));
      await final.catch(() => {});
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { chunks, final };
}
