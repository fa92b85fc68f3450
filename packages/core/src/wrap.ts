import { InvalidOptionError } from './errors.js';
import { BasePolicy } from './policy.js';
import type { Context, Policy } from './types.js';

class WrappedPolicy extends BasePolicy {
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    super();
    this.policies = policies;
  }

  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T> {
    const { policies } = this;
    const step = (index: number, current: Context): Promise<T> =>
      index === policies.length
        ? next(current)
        : (policies[index] as Policy).run(current, (inner) => step(index + 1, inner));
    return step(0, context);
  }
}

/**
 * Combines policies into one. The first argument is outermost: `wrap(timeout, retry)` is one deadline
 * over every attempt, `wrap(retry, timeout)` a timeout per attempt. Context flows inward, each policy
 * adding to it.
 */
export function wrap(...policies: Policy[]): Policy {
  const flat: Policy[] = [];
  policies.forEach((policy, index) => {
    if (!policy || typeof (policy as Policy).run !== 'function') {
      throw new InvalidOptionError(
        `wrap(): argument ${index} is not a Bulwark policy (use fromCockatiel() for a cockatiel policy)`,
        `policies[${index}]`,
      );
    }
    if (policy instanceof WrappedPolicy) flat.push(...policy.policies);
    else flat.push(policy);
  });
  return new WrappedPolicy(flat);
}
