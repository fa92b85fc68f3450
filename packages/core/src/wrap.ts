import { InvalidOptionError } from './errors.js';
import { BasePolicy } from './policy.js';
import type { Context, PhaseBudgets, Policy, PolicyLimits } from './types.js';

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

/** The limits of a policy and everything it wraps, outermost first, combined as they apply to a call. */
export interface PipelineLimits {
  /** The whole call (`Infinity` for none). */
  totalMs: number;
  /** One attempt (`Infinity` for none). */
  attemptMs: number;
  /** Attempts in total (1 without a retry). */
  maxAttempts: number;
  /** The longest wait between two attempts (0 without a retry). */
  maxDelayMs: number;
  /** The phase budgets the attempts receive (the innermost `timeout()` wins for each). */
  budgets: Readonly<PhaseBudgets>;
}

/** Reads the limits of `policy`: each policy's `limits()`, in the order `wrap()` runs them. */
export function pipelineLimits(policy: Policy): PipelineLimits {
  const flat = policy instanceof WrappedPolicy ? policy.policies : [policy];
  const result: PipelineLimits = {
    totalMs: Number.POSITIVE_INFINITY,
    attemptMs: Number.POSITIVE_INFINITY,
    maxAttempts: 1,
    maxDelayMs: 0,
    budgets: {},
  };
  let budgets: PhaseBudgets = {};
  let insideRetry = false;
  for (const each of flat) {
    const limits: PolicyLimits | undefined = each.limits?.();
    if (!limits) continue;
    // Placement gives the meaning: outside every retry a limit bounds the call, inside one each attempt.
    if (limits.limitMs !== undefined) {
      if (insideRetry) result.attemptMs = Math.min(result.attemptMs, limits.limitMs);
      else result.totalMs = Math.min(result.totalMs, limits.limitMs);
    }
    if (limits.budgets) budgets = { ...budgets, ...limits.budgets };
    if (limits.maxAttempts !== undefined) {
      result.maxAttempts *= limits.maxAttempts;
      result.maxDelayMs = Math.max(result.maxDelayMs, limits.maxDelayMs ?? 0);
      insideRetry = true;
    }
  }
  result.budgets = budgets;
  return result;
}
