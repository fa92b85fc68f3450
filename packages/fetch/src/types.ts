import type { Attributes, Policy } from '@bulwark/core';
import type { Dispatcher } from 'undici';

/** What the policy and the classifier know about a request. */
export interface RequestInfo {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  /** The `model` field of a JSON body, when there is one. */
  readonly model: string | undefined;
}

/**
 * Options of {@link createFetch}. Every budget (`…Ms`) is a number of milliseconds from 1 to
 * 2,147,483,647, or `Infinity` for no limit.
 */
export interface CreateFetchOptions {
  /** The policy every request runs through. @default `noop()` */
  policy?: Policy;
  /** DNS + TCP + TLS. @default 10_000 */
  connectMs?: number;
  /**
   * Request sent until response headers. LLM servers often send headers only with the first
   * token, after a model load. @default 300_000
   */
  headersMs?: number;
  /** Attempt start until the first byte of the body. @default 300_000 */
  firstTokenMs?: number;
  /** Silence between two body chunks while the reader waits. @default 60_000 */
  idleMs?: number;
  /**
   * Whether non-idempotent requests (POST, PATCH) may be replayed after a failure that may have
   * reached the server. Idempotent methods, requests with an `Idempotency-Key` header and failures
   * before anything was sent (refused connection, connect timeout) are always replayable.
   * Non-streamed LLM completions are safe to replay: pass `true` (or a predicate) for them.
   * @default false
   */
  retryNonIdempotent?: boolean | ((request: RequestInfo) => boolean);
  /** Extra attributes for the policy's context, from the request. */
  attributes?: (request: RequestInfo) => Attributes;
  /** Sockets per origin in the owned agents. @default 128 */
  connections?: number;
  /**
   * Your own undici dispatcher. Bulwark then does not own the connection: set its connect timeout
   * yourself; `connectMs` is ignored.
   */
  dispatcher?: Dispatcher;
  /** Error bodies kept for the returned `Response` are cut at this size. @default 1_048_576 */
  maxErrorBodyBytes?: number;
}

/** A `fetch` that runs through a policy. `close()` frees the sockets it owns. */
export interface BulwarkFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}
