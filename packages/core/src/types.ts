import type { BulkheadRejectedError, CircuitOpenError, TimeoutError } from './errors.js';

/**
 * Public types of the Bulwark policy contract. Every policy package, transport and instrumentation
 * speaks in these terms.
 */

/** What a call is about. Transports set `operation`, `model` and `host`; callers may add their own. */
export interface Attributes {
  /** The operation, e.g. `chat`, `generate`, `embed`, `pull`, `fetch`. */
  operation?: string;
  /** The model the call addresses, when it has one. */
  model?: string;
  /** The origin the call goes to, e.g. `http://127.0.0.1:11434`. Never carries credentials. */
  host?: string;
  [key: string]: unknown;
}

/** Budgets for the phases of one attempt, set by a `timeout()` and read by transports. */
export interface PhaseBudgets {
  /** DNS + TCP + TLS. */
  connectMs?: number;
  /** Request sent until response headers arrive. */
  headersMs?: number;
  /** Attempt start until the first content, thinking or tool-call chunk. */
  firstTokenMs?: number;
  /** Silence between two chunks while the reader waits. */
  idleMs?: number;
}

/**
 * A caller's budgets for one call (`ollama.chat(request, { timeout })`). They win over the budgets
 * of the client's policy: a `timeout()` uses `totalMs` or `attemptMs` instead of its own limit, and
 * the transport uses the phase budgets instead of the ones in force. Each is milliseconds from 1 to
 * 2,147,483,647, or `Infinity` for no limit.
 */
export interface CallTimeout extends PhaseBudgets {
  /** The whole call: queue, every attempt and the waits between them. */
  totalMs?: number;
  /** One attempt. */
  attemptMs?: number;
}

/**
 * What a policy says about the time it allows, so a client can report its effective budgets and
 * worst case (`ollama.timeouts()`). `timeout()` and `retry()` give theirs; `wrap()` combines them.
 */
export interface PolicyLimits {
  /** A limit over what the policy wraps. */
  limitMs?: number | undefined;
  /** Which budget `limitMs` is; `undefined` follows placement (inside a retry: `attempt`, else `total`). */
  phase?: 'attempt' | 'total' | undefined;
  /** Phase budgets handed to each attempt beneath. */
  budgets?: Readonly<PhaseBudgets> | undefined;
  /** Attempts in total, when the policy retries. */
  maxAttempts?: number | undefined;
  /** The longest wait between two attempts. */
  maxDelayMs?: number | undefined;
}

/** Which budget fired. */
export type TimeoutPhase =
  | 'queue'
  | 'load'
  | 'connect'
  | 'headers'
  | 'first-token'
  | 'idle'
  | 'attempt'
  | 'total';

/**
 * What an operation tells the policies around it while it waits on a model load that it does not
 * own (a transport's shared load of a cold model). A timeout that fires during the wait reports
 * phase `load`; a breaker does not count the wait as a failure or a slow call, and counts a failed
 * load once, on the wait whose `countsAsFailure` is true.
 */
export type ModelLoadWait =
  | {
      readonly type: 'wait-start';
      readonly model: string;
      readonly host: string;
      /** Clock time the load started (it may have started before this call joined it). */
      readonly loadStartedAt: number;
      /** Clock time this call started waiting. */
      readonly at: number;
    }
  | {
      readonly type: 'wait-end';
      readonly model: string;
      readonly host: string;
      readonly loadStartedAt: number;
      /** Clock time the wait ended. */
      readonly at: number;
      /** How long this call waited. */
      readonly waitedMs: number;
      /** `loaded`: the model is warm; `failed`: the load failed; `left`: the call stopped waiting (its signal or deadline). */
      readonly outcome: 'loaded' | 'failed' | 'left';
      /** True on exactly one of the waits on a failed load: the one a breaker counts. */
      readonly countsAsFailure: boolean;
    };

/** A load of a model, from its start to its end, as a client reports it to its subscribers. */
export interface ModelLoadStartEvent {
  readonly host: string;
  readonly model: string;
  /** Clock time the load request was sent. */
  readonly startedAt: number;
}

/** The end of a {@link ModelLoadStartEvent}'s load. */
export interface ModelLoadEndEvent {
  readonly host: string;
  readonly model: string;
  readonly startedAt: number;
  /** How long the load took, ms. */
  readonly durationMs: number;
  /** `loaded`, `failed` (the server's error or a broken connection), `timeout` (its `loadMs` budget fired) or `aborted` (the client closed). */
  readonly outcome: 'loaded' | 'failed' | 'timeout' | 'aborted';
  /** Why it did not load, unless `loaded`. */
  readonly error: unknown;
}

/**
 * Why a call failed without another attempt, as `retry()` reports it in a {@link GiveUpEvent}:
 *
 * - `max-attempts`: the last allowed attempt failed;
 * - `not-retryable`: the error is not one to retry (`retryOn` said no);
 * - `committed`: output had reached the caller, so the attempt cannot be replayed;
 * - `deadline`: the wait before the next attempt would overrun the deadline in force;
 * - `budget`: the retry budget refused the retry;
 * - `cancelled`: the caller's signal aborted;
 * - `outer-deadline`: a deadline outside the retry (a `timeout()` around it, a call's `totalMs`) fired.
 */
export type GiveUpReason =
  | 'max-attempts'
  | 'not-retryable'
  | 'committed'
  | 'deadline'
  | 'budget'
  | 'cancelled'
  | 'outer-deadline';

/** An attempt starts: `retry()` reports it before it runs the attempt. */
export interface AttemptStartEvent {
  readonly type: 'attempt-start';
  /** The 0-based attempt number. */
  readonly attempt: number;
  /** Attempts allowed in total. */
  readonly maxAttempts: number | undefined;
  /** Clock time the attempt started. */
  readonly at: number;
}

/** The call committed: its first output reached the caller (reported once per call by `commit()`). */
export interface CommitEvent {
  readonly type: 'commit';
  /** The attempt that committed. */
  readonly attempt: number;
  /** Clock time of the commit. */
  readonly at: number;
}

/** An attempt ended: `retry()` reports it as soon as the attempt settles. */
export interface AttemptEndEvent {
  readonly type: 'attempt-end';
  readonly attempt: number;
  /** Clock time the attempt ended. */
  readonly at: number;
  /** `success`: the attempt returned; `failure`: it threw `error`. */
  readonly outcome: 'success' | 'failure';
  /** What the attempt threw, when it failed. */
  readonly error: unknown;
  /** Output of this attempt had reached the caller. */
  readonly committed: boolean;
}

/**
 * The call fails with no further attempt: `retry()` reports it once, with the error the call
 * rejects with (the caller's own reason for `cancelled`, the deadline's `TimeoutError` for
 * `outer-deadline`). A caller's cancel and an outer deadline are reported the moment the signal
 * aborts, before the call's rejection can be observed.
 */
export interface GiveUpEvent {
  readonly type: 'give-up';
  /** The 0-based number of the last attempt. */
  readonly attempt: number;
  readonly reason: GiveUpReason;
  readonly error: unknown;
  /** Clock time of the decision. */
  readonly at: number;
}

/**
 * The lifecycle of a call, in order: for each attempt `attempt-start`, at most one `commit` for the
 * whole call, `attempt-end`; then, when the call fails through a retry, one `give-up`. Attempt and
 * give-up events come from `retry()`: a pipeline without one runs a single attempt and reports only
 * `commit`. Subscribe with `execute(fn, { onCallEvent })` or `context.with({ onCallEvent })`.
 */
export type CallEvent = AttemptStartEvent | CommitEvent | AttemptEndEvent | GiveUpEvent;

/** A handle to something that can be released; events return one per listener. */
export interface Disposable {
  dispose(): void;
}

/** Subscribes a listener; the returned handle unsubscribes it. */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/** A pending timer of a {@link Clock}. */
export interface TimerHandle {
  clear(): void;
}

/**
 * Time as policies see it. The real clock's timers are `unref()`ed, so a pending policy never keeps
 * a process alive; the manual clock lets tests drive time without global fake timers.
 */
export interface Clock {
  /** Milliseconds since the epoch, monotonic for the real clock. */
  now(): number;
  /** Calls `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
}

/** Patch applied by a policy to the context it hands inward. */
export interface ContextPatch {
  /** A signal for the inner call; must follow the outer one (use `linkSignal`). */
  signal?: AbortSignal;
  /** Starts a new attempt: a fresh commit state and this attempt number. */
  attempt?: number;
  /** Attempts allowed in total, for messages (`attempt 2 of 3`). */
  maxAttempts?: number;
  /** An absolute deadline; the context keeps the earliest of this and the one in force. */
  deadline?: number;
  /** Merged over the attributes in force. */
  attributes?: Attributes;
  /** Merged over the budgets in force. */
  budgets?: PhaseBudgets;
  /**
   * Called once when the current attempt commits (its first output reaches the caller), with the
   * clock time of the commit. Observers (telemetry, the slow-call rule) use it to time the first chunk.
   */
  onCommit?: (at: number) => void;
  /**
   * Called with every {@link ModelLoadWait} the operation reports through this context or any
   * context derived from it, for every attempt of the call.
   */
  onModelLoad?: (wait: ModelLoadWait) => void;
  /**
   * Called once when the current attempt receives its first chunk of output, streamed or not, with
   * the clock time it arrived. Telemetry uses it to time the first chunk of answers the transport
   * assembles before the caller sees them.
   */
  onFirstChunk?: (at: number) => void;
  /**
   * How {@link Context.spendRetry} takes a retry from the budget in force: a retry policy with a
   * budget sets it on each attempt's context.
   */
  retryBudget?: () => boolean | Promise<boolean>;
  /**
   * Called with every {@link CallEvent} reported through this context or any context derived from
   * it, in order, for every attempt of the call.
   */
  onCallEvent?: (event: CallEvent) => void;
}

/** What the operation sees. Immutable: policies derive a new context with {@link Context.with}. */
export interface Context {
  /** Aborts when the call must stop; `reason` tells why (the caller's own reason, or a `TimeoutError`). */
  readonly signal: AbortSignal;
  /** The attempt number, 0-based. */
  readonly attempt: number;
  /** Attempts allowed in total when a retry policy is in force. */
  readonly maxAttempts: number | undefined;
  /** The earliest absolute deadline in force, in the clock's time, or `undefined` for none. */
  readonly deadline: number | undefined;
  /** The call's attributes. */
  readonly attributes: Readonly<Attributes>;
  /** Phase budgets a timeout policy set. Transports clamp them to the deadline. */
  readonly budgets: Readonly<PhaseBudgets>;
  /** The clock of this call. */
  readonly clock: Clock;
  /** The caller's own budgets for this call, which win over the policies' (see {@link CallTimeout}). */
  readonly callTimeout?: Readonly<CallTimeout> | undefined;
  /** True once the operation delivered output to the caller: the attempt can no longer be replayed. */
  readonly committed: boolean;
  /** Marks the current attempt committed. Idempotent. */
  commit(): void;
  /** Tells the current attempt's `onFirstChunk` listeners that output arrived. Idempotent. */
  firstChunk(): void;
  /** Milliseconds left until the deadline (never negative), or `Infinity` without one. */
  remainingMs(): number;
  /** Tells the policies that subscribed with `onModelLoad` about a wait on a model load. */
  reportModelLoad(wait: ModelLoadWait): void;
  /**
   * Takes one retry from the retry budget in force, for extra requests that cost what a retry
   * costs (a hedged request): true when the request may go, false when the budget is spent. True
   * when no retry policy with a budget runs the call.
   */
  spendRetry(): boolean | Promise<boolean>;
  /**
   * Tells the listeners that subscribed with `onCallEvent` about an attempt's start or end or the
   * call's give-up (`retry()` does). A `commit` is reported by {@link Context.commit}, not here.
   */
  reportCallEvent(event: AttemptStartEvent | AttemptEndEvent | GiveUpEvent): void;
  /** A derived context. */
  with(patch: ContextPatch): Context;
}

/** Options of {@link Policy.execute}. */
export interface ExecuteOptions {
  /** The caller's cancel. Its reason is rethrown untouched. */
  signal?: AbortSignal;
  /** Attributes of the call (`operation`, `model`, `host`, …). */
  attributes?: Attributes;
  /** The clock of the call. @default the real clock */
  clock?: Clock;
  /** The caller's budgets for this call, winning over the policies'. @default undefined (the policies' own) */
  timeout?: CallTimeout;
  /**
   * Attributes each attempt adds to the call's, asked for attempt 0 when the call starts and again
   * whenever a retry starts another attempt. A client with several hosts names each attempt's
   * `host` here, so policies keyed by `host`, telemetry and errors see the host the attempt goes to.
   * @default undefined (every attempt has the call's attributes)
   */
  attemptAttributes?: (attempt: number) => Attributes | undefined;
  /**
   * Called with every {@link CallEvent} of the call, in order: attempts started and ended, the
   * commit, the give-up and its reason.
   * @default undefined (no listener)
   */
  onCallEvent?: (event: CallEvent) => void;
}

/** The operation a policy runs. */
export type Operation<T> = (context: Context) => Promise<T> | T;

/**
 * A policy runs a function. `execute` is the entry point for callers; `run` is the middleware form
 * that `wrap()` chains, handing each policy the context its outer neighbour made.
 */
export interface Policy {
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T>;
  /** The limits this policy applies, when it has any (see {@link PolicyLimits}). */
  limits?(): PolicyLimits;
  run<T>(context: Context, next: (context: Context) => Promise<T>): Promise<T>;
}

/**
 * How a keyed policy picks its state: by an attribute, by host and model together (`'host+model'`:
 * one state per model on each host), or by a function of the context.
 */
export type KeyOption = 'model' | 'host' | 'host+model' | 'operation' | ((context: Context) => string);

/*
 * The events of each policy, and the state it reports for gauges. They live here so that
 * telemetry and user code import types, never policies. One pattern on every policy: events are
 * `on` + what happened (`onRetry`, `onRejected`), payloads are `<Policy><What>Event` with one shape
 * each and the call's `context` when a call caused them; the state for gauges is `state(key)`
 * and `states()` (every key), each entry a `<Policy>Status`.
 */

/** `retry()`'s `onRetry`: an attempt failed and the policy waits `delayMs` before the next. */
export interface RetryEvent {
  /** The 0-based number of the attempt that failed. */
  readonly attempt: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  /** The error of the attempt that failed. */
  readonly error: unknown;
  /** The context the policy received (the call's). */
  readonly context: Context;
}

/** `retry()`'s `onGiveUp`: the call fails through the policy (also a `give-up` {@link CallEvent}). */
export interface RetryGiveUpEvent {
  /** The 0-based number of the last attempt. */
  readonly attempt: number;
  /** The error the policy rethrows (the caller's own reason when `reason` is `cancelled`). */
  readonly error: unknown;
  /** Why the policy did not retry. */
  readonly reason: GiveUpReason;
  /** The context the policy received (the call's). */
  readonly context: Context;
}

/** `retry()`'s `onBudgetExhausted`: the retry budget refused a retry. */
export interface RetryBudgetExhaustedEvent {
  /** The 0-based number of the attempt that failed. */
  readonly attempt: number;
  /**
   * The error that would have been retried; the call rejects with a `RetryBudgetExhaustedError`
   * whose `cause` is this error.
   */
  readonly error: unknown;
  /** The budget's key (`'default'` without a `key` option). */
  readonly key: string;
  /** The context the policy received (the call's). */
  readonly context: Context;
}

/** A retry budget as a gauge reads it. */
export interface RetryBudgetStatus {
  /** Whole retries the budget allows right now (`Infinity` with `budget: false`). */
  readonly remaining: number;
}

/** `timeout()`'s `onTimeout`: its limit expired, before the call rejects. */
export interface TimeoutEvent {
  /** The budget this policy enforces. */
  readonly phase: 'attempt' | 'total';
  readonly timeoutMs: number;
  readonly elapsedMs: number;
  /** The attempt number of the context the policy received. */
  readonly attempt: number;
  /** The error the call rejects with. */
  readonly error: TimeoutError;
  /** The context the policy received. */
  readonly context: Context;
}

/** Where a circuit breaker stands. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** `circuitBreaker()`'s `onStateChange`: the breaker of `key` moved `from` → `to`. */
export interface CircuitStateChangeEvent {
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** What moved it: the failure that opened it, or a short text. */
  readonly reason: unknown;
}

/** `circuitBreaker()`'s `onRejected`: a call was refused without running. */
export interface CircuitRejectedEvent {
  readonly key: string;
  readonly state: 'open' | 'half-open';
  /** The error the call rejects with. */
  readonly error: CircuitOpenError;
  readonly context: Context;
}

/** `circuitBreaker()`'s `onOutcome`: a call ran and was counted (`success`, `failure`) or not (`ignore`). */
export interface CircuitOutcomeEvent {
  readonly key: string;
  readonly outcome: 'success' | 'failure' | 'ignore';
  readonly durationMs: number;
  readonly error?: unknown;
  readonly context: Context;
}

/** A circuit breaker as a gauge reads it. */
export interface CircuitBreakerStatus {
  state: CircuitState;
  /** When an open breaker lets a probe through (clock time). */
  retryAt: number | undefined;
  /** Probes in flight. */
  probes: number;
}

/** `bulkhead()`'s `onQueued`: a call waits for a slot. */
export interface BulkheadQueuedEvent {
  readonly key: string;
  /** Calls waiting, this one included. */
  readonly queued: number;
  readonly context: Context;
}

/** `bulkhead()`'s `onAcquired`: a call got its slot, at once (`waitedMs` 0) or after waiting. */
export interface BulkheadAcquiredEvent {
  readonly key: string;
  readonly waitedMs: number;
  readonly context: Context;
}

/** `bulkhead()`'s `onRejected`: slots and queue were full. */
export interface BulkheadRejectedEvent {
  readonly key: string;
  /** The error the call rejects with. */
  readonly error: BulkheadRejectedError;
  readonly context: Context;
}

/** `bulkhead()`'s `onReleased`: a call gave its slot back. */
export interface BulkheadReleasedEvent {
  readonly key: string;
  readonly context: Context;
}

/** A bulkhead's key as a gauge reads it. */
export interface BulkheadStatus {
  /** Calls holding a slot. */
  running: number;
  /** Calls waiting for one. */
  queued: number;
  /** Calls turned away so far. */
  rejected: number;
}

/**
 * What telemetry subscribes to: each policy names its kind and carries its events and its state
 * for gauges. `@bulwark/otel` switches on `kind`; nothing probes for method names.
 */
export type ObservablePolicy =
  | {
      readonly kind: 'retry';
      readonly onRetry: Event<RetryEvent>;
      readonly onGiveUp: Event<RetryGiveUpEvent>;
      readonly onBudgetExhausted: Event<RetryBudgetExhaustedEvent>;
      states(): Iterable<[string, RetryBudgetStatus]>;
    }
  | { readonly kind: 'timeout'; readonly onTimeout: Event<TimeoutEvent> }
  | {
      readonly kind: 'circuit-breaker';
      readonly onStateChange: Event<CircuitStateChangeEvent>;
      readonly onRejected: Event<CircuitRejectedEvent>;
      states(): Iterable<[string, CircuitBreakerStatus]>;
    }
  | {
      readonly kind: 'bulkhead';
      readonly onQueued: Event<BulkheadQueuedEvent>;
      readonly onAcquired: Event<BulkheadAcquiredEvent>;
      readonly onRejected: Event<BulkheadRejectedEvent>;
      states(): Iterable<[string, BulkheadStatus]>;
    };

/** The kinds of {@link ObservablePolicy}. */
export type PolicyKind = ObservablePolicy['kind'];
