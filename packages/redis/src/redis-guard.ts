import { createHash } from 'node:crypto';
import { Emitter, InvalidOptionError } from '@bulwark/core';
import { duration, type OptionSchema, object, oneOf, string, validateOptions } from '@bulwark/core/internal';
import { StoreUnavailableError } from './store-unavailable-error.js';
import type {
  RedisScriptClient,
  RedisStoreOptions,
  StoreAvailableEvent,
  StoreUnavailableEvent,
  WhenUnavailable,
} from './types.js';

export const DEFAULT_PREFIX = 'bulwark';
export const DEFAULT_COMMAND_TIMEOUT_MS = 250;
export const DEFAULT_RETRY_UNAVAILABLE_MS = 1_000;

/** The checks of the options every store shares. */
export const storeOptionChecks = {
  client: object,
  prefix: string,
  commandTimeoutMs: duration(1),
  whenUnavailable: oneOf('local', 'fail'),
  retryUnavailableMs: duration(0),
} satisfies OptionSchema<RedisStoreOptions>;

/** Validates a store's options and that `client` can run scripts. */
export function validateStoreOptions(
  where: string,
  options: RedisStoreOptions,
  extra: Readonly<Record<string, (value: unknown) => string | undefined>> = {},
): void {
  validateOptions(where, options, { ...storeOptionChecks, ...extra });
  const client = options?.client as Partial<RedisScriptClient> | undefined;
  if (typeof client?.evalsha !== 'function' || typeof client.eval !== 'function') {
    throw new InvalidOptionError(
      `${where}: option "client" must be a Redis client with eval() and evalsha() (an ioredis Redis)`,
      'client',
    );
  }
}

/** A Lua script run by its SHA1, loaded with EVAL the first time the server does not know it. */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisScriptClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** The server's clock in milliseconds, read inside a script (`TIME`); never a host's clock. */
export const SERVER_NOW_MS = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

/** What {@link RedisGuard.run} returns when Redis did not answer. */
export const UNAVAILABLE: unique symbol = Symbol('redis unavailable');

class CommandTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisCommandTimeout';
  }
}

/**
 * Runs one Redis operation at a time under its own timeout and tracks whether Redis is answering.
 * After a failure it stays unavailable (operations return {@link UNAVAILABLE} at once) and lets one
 * operation through every `retryUnavailableMs` to see whether Redis is back.
 */
export class RedisGuard {
  readonly client: RedisScriptClient;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly whenUnavailable: WhenUnavailable;
  readonly retryUnavailableMs: number;
  readonly #store: string;
  #unavailableSince: number | undefined;
  #nextTry = 0;
  readonly #unavailable = new Emitter<StoreUnavailableEvent>();
  readonly #available = new Emitter<StoreAvailableEvent>();
  readonly onUnavailable = this.#unavailable.event;
  readonly onAvailable = this.#available.event;

  constructor(store: string, options: RedisStoreOptions) {
    this.#store = store;
    this.client = options.client;
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.whenUnavailable = options.whenUnavailable ?? 'local';
    this.retryUnavailableMs = options.retryUnavailableMs ?? DEFAULT_RETRY_UNAVAILABLE_MS;
  }

  /** Whether the last operation reached Redis. */
  get available(): boolean {
    return this.#unavailableSince === undefined;
  }

  /** A key under the store's prefix. */
  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /** Runs `script`, or returns {@link UNAVAILABLE} when Redis fails, is too slow, or is known to be down. */
  async run(script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    const now = Date.now();
    if (this.#unavailableSince !== undefined) {
      if (now < this.#nextTry) return UNAVAILABLE;
      this.#nextTry = now + this.retryUnavailableMs;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        script.run(this.client, keys, args),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new CommandTimeout(this.commandTimeoutMs)), this.commandTimeoutMs);
          timer.unref();
        }),
      ]);
      if (this.#unavailableSince !== undefined) {
        const unavailableMs = Date.now() - this.#unavailableSince;
        this.#unavailableSince = undefined;
        this.#available.emit({ store: this.#store, unavailableMs });
      }
      return result;
    } catch (error) {
      if (this.#unavailableSince === undefined) {
        this.#unavailableSince = Date.now();
        this.#nextTry = this.#unavailableSince + this.retryUnavailableMs;
        this.#unavailable.emit({ store: this.#store, error });
      }
      return UNAVAILABLE;
    } finally {
      clearTimeout(timer);
    }
  }

  /** With `whenUnavailable: 'fail'`, the error a call is refused with. */
  refusal(): StoreUnavailableError | undefined {
    return this.whenUnavailable === 'fail' ? new StoreUnavailableError({ store: this.#store }) : undefined;
  }
}
