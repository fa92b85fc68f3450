import { cancelOf, createContext } from './context.js';
import { InvalidOptionError } from './errors.js';
import { assertSignal, describe } from './signal.js';
import type { Context, ExecuteOptions, Operation, Policy } from './types.js';

/** The middleware form of a policy. */
export type PolicyRun = <T>(context: Context, next: (context: Context) => Promise<T>) => Promise<T>;

/** Runs `fn` with `context`, turning a synchronous throw into a rejection. */
export function invoke<T>(fn: Operation<T>, context: Context): Promise<T> {
  try {
    return Promise.resolve(fn(context));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A base class for policies: implement {@link BasePolicy.run}; `execute` builds the starting context
 * from the caller's options and runs through it.
 */
export abstract class BasePolicy implements Policy {
  abstract run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T>;

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    try {
      assertSignal(options?.signal, 'execute()');
      const onCallEvent = options?.onCallEvent;
      if (onCallEvent !== undefined && typeof onCallEvent !== 'function') {
        throw new InvalidOptionError(
          `execute(): option "onCallEvent" must be a function, got ${describe(onCallEvent)}`,
          'onCallEvent',
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const context = createContext(options);
    const cancel = cancelOf(context);
    if (cancel.aborted) return Promise.reject(cancel.reason);
    return this.run(context, (inner) => invoke(fn, inner));
  }
}

class FunctionPolicy extends BasePolicy {
  readonly #run: PolicyRun;

  constructor(run: PolicyRun) {
    super();
    this.#run = run;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    return this.#run(context, next);
  }
}

/**
 * Makes a policy from its middleware function, so users can add their own steps to a `wrap()`.
 *
 * @example
 * const logged = definePolicy(async (context, next) => {
 *   console.log('attempt', context.attempt, context.attributes.model);
 *   return next(context);
 * });
 */
export function definePolicy(run: PolicyRun): Policy {
  return new FunctionPolicy(run);
}

/** A policy that does nothing but run the operation. */
export function noop(): Policy {
  return definePolicy((context, next) => next(context));
}
