import { Cancel } from './cancel.js';
import { realClock } from './clock.js';
import { callEach } from './events.js';
import type {
  AttemptEndEvent,
  AttemptStartEvent,
  Attributes,
  CallEvent,
  CallTimeout,
  Clock,
  Context,
  ContextPatch,
  ExecuteOptions,
  GiveUpEvent,
  ModelLoadWait,
  PhaseBudgets,
} from './types.js';

type LoadListeners = readonly ((wait: ModelLoadWait) => void)[];
type AttemptAttributes = (attempt: number) => Attributes | undefined;
type RetryBudget = () => boolean | Promise<boolean>;

/** What a context passes on to the contexts derived from it, beyond its fields. */
interface Hooks {
  readonly loadListeners: LoadListeners | undefined;
  readonly attemptAttributes: AttemptAttributes | undefined;
  readonly retryBudget: RetryBudget | undefined;
}

const noHooks: Hooks = Object.freeze({
  loadListeners: undefined,
  attemptAttributes: undefined,
  retryBudget: undefined,
});
type CallListeners = readonly ((event: CallEvent) => void)[];

/** What every context of one call shares. */
interface CallScope {
  /** The call's `commit` event was reported (once per call, whichever attempt committed). */
  commitReported: boolean;
}

interface Commitment {
  committed: boolean;
  listeners: Array<(at: number) => void> | undefined;
  /** The attempt received its first chunk. */
  started: boolean;
  firstChunkListeners: Array<(at: number) => void> | undefined;
}

const empty: Readonly<Attributes & PhaseBudgets> = Object.freeze({});

class CallContext implements Context {
  readonly attempt: number;
  readonly maxAttempts: number | undefined;
  readonly deadline: number | undefined;
  readonly attributes: Readonly<Attributes>;
  readonly budgets: Readonly<PhaseBudgets>;
  readonly clock: Clock;
  readonly callTimeout: Readonly<CallTimeout> | undefined;
  readonly #commitment: Commitment;
  readonly #hooks: Hooks;
  readonly #callListeners: CallListeners | undefined;
  readonly #scope: CallScope;
  /** The call's cancellation; its `AbortSignal` is made only when `signal` is read. */
  readonly #cancel: Cancel;

  constructor(
    cancel: Cancel,
    attempt: number,
    maxAttempts: number | undefined,
    deadline: number | undefined,
    attributes: Readonly<Attributes>,
    budgets: Readonly<PhaseBudgets>,
    clock: Clock,
    commitment: Commitment,
    hooks: Hooks,
    callTimeout: Readonly<CallTimeout> | undefined,
    callListeners: CallListeners | undefined,
    scope: CallScope,
  ) {
    this.#cancel = cancel;
    this.attempt = attempt;
    this.maxAttempts = maxAttempts;
    this.deadline = deadline;
    this.attributes = attributes;
    this.budgets = budgets;
    this.clock = clock;
    this.#commitment = commitment;
    this.#hooks = hooks;
    this.callTimeout = callTimeout;
    this.#callListeners = callListeners;
    this.#scope = scope;
  }

  /** The cancel of `context`, when it is one of these. */
  static cancelOf(context: Context): Cancel | undefined {
    return #cancel in context ? (context as CallContext).#cancel : undefined;
  }

  get signal(): AbortSignal {
    return this.#cancel.signal;
  }

  get committed(): boolean {
    return this.#commitment.committed;
  }

  commit(): void {
    const commitment = this.#commitment;
    if (commitment.committed) return;
    commitment.committed = true;
    const scope = this.#scope;
    const report = !scope.commitReported;
    scope.commitReported = true;
    const listeners = commitment.listeners;
    const callListeners = report ? this.#callListeners : undefined;
    if (!listeners && !callListeners) return;
    const at = this.clock.now();
    if (listeners) {
      commitment.listeners = undefined;
      for (const listener of listeners) listener(at);
    }
    if (callListeners) callEach(callListeners, { type: 'commit', attempt: this.attempt, at });
  }

  firstChunk(): void {
    const commitment = this.#commitment;
    if (commitment.started) return;
    commitment.started = true;
    const listeners = commitment.firstChunkListeners;
    if (listeners) {
      commitment.firstChunkListeners = undefined;
      const at = this.clock.now();
      for (const listener of listeners) listener(at);
    }
  }

  remainingMs(): number {
    return this.deadline === undefined
      ? Number.POSITIVE_INFINITY
      : Math.max(0, this.deadline - this.clock.now());
  }

  reportModelLoad(wait: ModelLoadWait): void {
    const listeners = this.#hooks.loadListeners;
    if (listeners) for (const listener of listeners) listener(wait);
  }

  spendRetry(): boolean | Promise<boolean> {
    const budget = this.#hooks.retryBudget;
    return budget ? budget() : true;
  }

  reportCallEvent(event: AttemptStartEvent | AttemptEndEvent | GiveUpEvent): void {
    const listeners = this.#callListeners;
    if (listeners) callEach(listeners, event);
  }

  with(patch: ContextPatch): Context {
    return this.derive(patch.signal === undefined ? this.#cancel : Cancel.of(patch.signal), patch);
  }

  /** {@link CallContext.with}, with `cancel` as the inner call's cancellation. */
  derive(cancel: Cancel, patch: ContextPatch): CallContext {
    const deadline =
      patch.deadline === undefined
        ? this.deadline
        : this.deadline === undefined
          ? patch.deadline
          : Math.min(this.deadline, patch.deadline);
    const commitment: Commitment =
      patch.attempt === undefined
        ? this.#commitment
        : { committed: false, listeners: undefined, started: false, firstChunkListeners: undefined };
    if (patch.onCommit) {
      if (commitment.committed) patch.onCommit(this.clock.now());
      else if (commitment.listeners) commitment.listeners.push(patch.onCommit);
      else commitment.listeners = [patch.onCommit];
    }
    if (patch.onFirstChunk) {
      if (commitment.started) patch.onFirstChunk(this.clock.now());
      else if (commitment.firstChunkListeners) commitment.firstChunkListeners.push(patch.onFirstChunk);
      else commitment.firstChunkListeners = [patch.onFirstChunk];
    }
    let attributes = patch.attributes ? { ...this.attributes, ...patch.attributes } : this.attributes;
    const hooks = this.#hooks;
    // Another attempt: the attributes of that attempt (a fleet's host) replace the last one's.
    if (patch.attempt !== undefined && patch.attempt !== this.attempt && hooks.attemptAttributes) {
      const added = hooks.attemptAttributes(patch.attempt);
      if (added) attributes = { ...attributes, ...added };
    }
    return new CallContext(
      cancel,
      patch.attempt ?? this.attempt,
      patch.maxAttempts ?? this.maxAttempts,
      deadline,
      attributes,
      patch.budgets ? mergeBudgets(this.budgets, patch.budgets) : this.budgets,
      this.clock,
      commitment,
      patch.onModelLoad || patch.retryBudget
        ? {
            ...hooks,
            loadListeners: patch.onModelLoad
              ? [...(hooks.loadListeners ?? []), patch.onModelLoad]
              : hooks.loadListeners,
            retryBudget: patch.retryBudget ?? hooks.retryBudget,
          }
        : hooks,
      this.callTimeout,
      patch.onCallEvent ? [...(this.#callListeners ?? []), patch.onCallEvent] : this.#callListeners,
      this.#scope,
    );
  }
}

/**
 * `patch` over `base`, entries left undefined ignored. A frozen patch over no budgets is used as it
 * is (a `timeout()` hands the same frozen budgets to every call), without a copy per call.
 */
function mergeBudgets(base: Readonly<PhaseBudgets>, patch: Readonly<PhaseBudgets>): Readonly<PhaseBudgets> {
  if (base === empty && Object.isFrozen(patch)) {
    let clean = true;
    for (const key in patch) if (patch[key as keyof PhaseBudgets] === undefined) clean = false;
    if (clean) return patch;
  }
  return { ...base, ...withoutUndefined(patch) };
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const entry = value[key];
    if (entry !== undefined) out[key] = entry;
  }
  return out as Partial<T>;
}

/** The context a call starts with: the caller's signal and attributes, attempt 0, no deadline. */
export function createContext(options: ExecuteOptions = {}): Context {
  const attemptAttributes = options.attemptAttributes;
  const first = attemptAttributes?.(0);
  return new CallContext(
    Cancel.of(options.signal),
    0,
    undefined,
    undefined,
    options.attributes || first ? { ...options.attributes, ...first } : empty,
    empty,
    options.clock ?? realClock,
    { committed: false, listeners: undefined, started: false, firstChunkListeners: undefined },
    attemptAttributes ? { ...noHooks, attemptAttributes } : noHooks,
    options.timeout && Object.freeze(withoutUndefined(options.timeout)),
    options.onCallEvent && [options.onCallEvent],
    { commitReported: false },
  );
}

/**
 * The cancellation of `context`'s call: for policies, which listen to it and check it without
 * making an `AbortSignal` (see {@link Cancel}).
 */
export function cancelOf(context: Context): Cancel {
  return CallContext.cancelOf(context) ?? Cancel.of(context.signal);
}

/** `context.with(patch)`, with `cancel` (linked to `cancelOf(context)`) as the inner call's cancellation. */
export function withCancel(context: Context, cancel: Cancel, patch: ContextPatch): Context {
  if (context instanceof CallContext) return context.derive(cancel, patch);
  return context.with({ ...patch, signal: cancel.signal });
}
