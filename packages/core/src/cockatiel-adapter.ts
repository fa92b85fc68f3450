import { BasePolicy } from './policy.js';
import { linkSignal } from './signal.js';
import type { Context } from './types.js';

/** The shape of a cockatiel policy (`IPolicy`), typed structurally so core does not depend on cockatiel. */
export interface CockatielLikePolicy {
  execute(fn: (context: { signal: AbortSignal }) => unknown, signal?: AbortSignal): Promise<unknown>;
}

class CockatielAdapter extends BasePolicy {
  readonly #policy: CockatielLikePolicy;

  constructor(policy: CockatielLikePolicy) {
    super();
    this.#policy = policy;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    // A cockatiel fallback may answer with its own value instead of the operation's.
    return this.#policy.execute(({ signal }) => {
      // cockatiel's own signal loses the caller's abort reason: follow the caller's signal for its
      // reason, and cockatiel's for aborts that start inside cockatiel.
      const linked = linkSignal(context.signal);
      const onInner = () => linked.abort(signal.reason);
      if (signal.aborted) onInner();
      else signal.addEventListener('abort', onInner, { once: true });
      return next(context.with({ signal: linked.signal })).finally(() => {
        signal.removeEventListener('abort', onInner);
        linked.dispose();
      });
    }, context.signal) as Promise<T>;
  }
}

/**
 * Lets any cockatiel policy (a `fallback`, a `timeout`, a custom one) take part in `wrap()`. The
 * caller's abort reason still reaches the inner operation untouched.
 */
export function fromCockatiel(policy: CockatielLikePolicy): BasePolicy {
  return new CockatielAdapter(policy);
}
