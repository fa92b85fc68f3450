import { type Event, InvalidOptionError } from '@bulwark/core';
import { RedisGuard, Script, UNAVAILABLE, validateStoreOptions } from './redis-guard.js';
import type { RedisStoreOptions, StoreAvailableEvent, StoreUnavailableEvent } from './types.js';

/** Options of `redisSharedState()`. Only `whenUnavailable: 'local'`: a client goes on with its own state. */
export type RedisSharedStateOptions = RedisStoreOptions;

/** One host as {@link RedisSharedState.read} returns it (the shape `SharedHostState` of `@bulwark/ollama`). */
export interface RedisSharedHostState {
  readonly host: string;
  readonly warmMs: number;
  readonly loading: boolean;
  readonly ejectedMs: number;
}

/** What {@link RedisSharedState.claimLoad} found (the shape `SharedLoadClaim` of `@bulwark/ollama`). */
export type RedisSharedLoadClaim =
  | { readonly state: 'claimed' }
  | { readonly state: 'warm'; readonly warmMs: number }
  | { readonly state: 'loading' };

/*
 * Keys, all with TTLs measured by the Redis server:
 *   …:model:<host>:<model>:warm     exists while the model is warm there (PX its keep-alive; no TTL: forever)
 *   …:model:<host>:<model>:loading  the load claim: the claiming process's id, PX the claim's lease
 *   …:host:<host>:ejected           exists while the host is ejected (PX the ejection)
 * A warm time is written as "milliseconds from now", never as a clock time: hosts do not share a clock.
 */

/** `inf` for Infinity (Lua reads numbers as doubles, but a script argument is a string). */
const msArgument = (ms: number): string => (ms === Number.POSITIVE_INFINITY ? 'inf' : String(Math.round(ms)));
/** A PTTL as a duration: -1 (no TTL) is forever, -2 (no key) and 0 are none. */
const ttlMs = (pttl: unknown): number => {
  const value = Number(pttl);
  return value === -1 ? Number.POSITIVE_INFINITY : Math.max(0, value);
};

// KEYS: per host, warm, loading, ejected. Returns their PTTLs in the same order.
const READ = new Script(`local out = {}
for i = 1, #KEYS do out[i] = redis.call('PTTL', KEYS[i]) end
return out`);

// KEYS: warm. ARGV: warm ms ('inf' forever, 0 cold).
const SET_WARM = new Script(`if ARGV[1] == 'inf' then return redis.call('SET', KEYS[1], '1') end
local ms = tonumber(ARGV[1])
if ms <= 0 then return redis.call('DEL', KEYS[1]) end
return redis.call('SET', KEYS[1], '1', 'PX', ms)`);

// KEYS: warm, loading. ARGV: id, lease ms. Returns {1, warm ms (-1 forever)} warm, {0} claimed
// (or renewed, for the holder), {2} claimed by another process.
const CLAIM = new Script(`local warm = redis.call('PTTL', KEYS[1])
if warm == -1 or warm > 0 then return {1, warm} end
local holder = redis.call('GET', KEYS[2])
if not holder then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', tonumber(ARGV[2]))
  return {0}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]))
  return {0}
end
return {2}`);

// KEYS: warm, loading. ARGV: id, warm ms ('inf' forever, 0 the load failed).
const END_LOAD = new Script(`if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if ARGV[2] == 'inf' then return redis.call('SET', KEYS[1], '1') end
local ms = tonumber(ARGV[2])
if ms > 0 then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1`);

// KEYS: ejected. ARGV: ms (0: back). An ejection is only ever lengthened by another.
const SET_EJECTED = new Script(`local ms = tonumber(ARGV[1])
if ms <= 0 then return redis.call('DEL', KEYS[1]) end
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1`);

/**
 * Model and host state on Redis for `new Ollama({ sharedState })`: every replica of a service sees
 * which models are warm or loading on which host, and which hosts are ejected. One script per
 * operation, each under `commandTimeoutMs`; while Redis does not answer, reads and claims return
 * `undefined` and writes are dropped, so each client goes on with its own state (and
 * `onUnavailable` / `onAvailable` fire as for the other stores).
 */
export class RedisSharedState {
  readonly #guard: RedisGuard;
  /** Redis stopped answering; each client goes on with what it saw itself. */
  readonly onUnavailable: Event<StoreUnavailableEvent>;
  /** Redis answers again; clients read and write shared state. */
  readonly onAvailable: Event<StoreAvailableEvent>;

  constructor(options: RedisSharedStateOptions) {
    validateStoreOptions('redisSharedState()', options);
    if (options.whenUnavailable === 'fail') {
      throw new InvalidOptionError(
        'redisSharedState(): option "whenUnavailable" must be "local": shared state only informs routing, a client without it goes on with its own',
        'whenUnavailable',
      );
    }
    this.#guard = new RedisGuard('shared state', options);
    this.onUnavailable = this.#guard.onUnavailable;
    this.onAvailable = this.#guard.onAvailable;
  }

  /** Whether Redis answered the last operation. */
  get available(): boolean {
    return this.#guard.available;
  }

  #modelKey(host: string, model: string, part: 'warm' | 'loading'): string {
    return this.#guard.key('model', host, model, part);
  }

  async read(
    hosts: readonly string[],
    model: string | undefined,
  ): Promise<RedisSharedHostState[] | undefined> {
    const keys: string[] = [];
    for (const host of hosts) {
      // Without a model, the model keys are ones nothing writes (an empty name).
      keys.push(
        this.#modelKey(host, model ?? '', 'warm'),
        this.#modelKey(host, model ?? '', 'loading'),
        this.#guard.key('host', host, 'ejected'),
      );
    }
    const result = await this.#guard.run(READ, keys, []);
    if (result === UNAVAILABLE) return undefined;
    const ttls = result as unknown[];
    return hosts.map((host, index) => ({
      host,
      warmMs: ttlMs(ttls[index * 3]),
      loading: ttlMs(ttls[index * 3 + 1]) > 0,
      ejectedMs: ttlMs(ttls[index * 3 + 2]),
    }));
  }

  async setWarm(host: string, model: string, warmMs: number): Promise<void> {
    await this.#guard.run(SET_WARM, [this.#modelKey(host, model, 'warm')], [msArgument(warmMs)]);
  }

  async claimLoad(
    host: string,
    model: string,
    id: string,
    leaseMs: number,
  ): Promise<RedisSharedLoadClaim | undefined> {
    const result = await this.#guard.run(
      CLAIM,
      [this.#modelKey(host, model, 'warm'), this.#modelKey(host, model, 'loading')],
      [id, msArgument(Math.max(1, leaseMs))],
    );
    if (result === UNAVAILABLE) return undefined;
    const [state, warm] = result as [number, number | undefined];
    if (state === 1) return { state: 'warm', warmMs: ttlMs(warm) };
    return state === 0 ? { state: 'claimed' } : { state: 'loading' };
  }

  async endLoad(host: string, model: string, id: string, warmMs: number): Promise<void> {
    await this.#guard.run(
      END_LOAD,
      [this.#modelKey(host, model, 'warm'), this.#modelKey(host, model, 'loading')],
      [id, msArgument(warmMs)],
    );
  }

  async setEjected(host: string, ejectedMs: number): Promise<void> {
    await this.#guard.run(SET_EJECTED, [this.#guard.key('host', host, 'ejected')], [msArgument(ejectedMs)]);
  }
}

/**
 * Shared model and host state on Redis, for `new Ollama({ sharedState })`: a model one replica
 * loaded is routed as warm by all, one replica loads a model on a host while the others wait for
 * it, and a host one replica ejected is avoided by all until the ejection ends.
 *
 * @example
 * const ollama = new Ollama({ hosts, sharedState: redisSharedState({ client }) });
 */
export function redisSharedState(options: RedisSharedStateOptions): RedisSharedState {
  return new RedisSharedState(options);
}
