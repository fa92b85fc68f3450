// Ollama's two waits (server/sched.go): a bounded scheduling queue for requests that need a model
// load or reload, and per-model parallel slots that later requests wait for in order, without bound.
import type { CancelSignal } from './cancel-signal.js';
import { FOREVER_MS } from './go-duration.js';
import type { SimModel } from './model-catalog.js';
import type { SimStats } from './sim-stats.js';

/** `ErrMaxQueue`'s text (two spaces). */
export const SERVER_BUSY_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';

/** Why a request could not get a model or a slot. `status` is what Ollama answers. */
export class SchedulerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const busy = () => new SchedulerError(503, SERVER_BUSY_MESSAGE);
const canceled = () => new SchedulerError(499, 'request canceled');
const closedError = () => new SchedulerError(503, 'the simulator is closing');

/** Default `num_ctx` a model loads with. */
export const DEFAULT_NUM_CTX = 4096;

interface Waiter {
  resolve(): void;
  reject(error: SchedulerError): void;
}

/** A resident (or loading) model. */
export interface Runner {
  readonly model: SimModel;
  readonly numCtx: number;
  loading: boolean;
  /** Settles when the load ends: resolves when loaded, rejects when the load was aborted. */
  readonly loaded: Promise<void>;
  refCount: number;
  /** Keep-alive after the last request, ms; 0 unloads at once. */
  sessionMs: number;
  /** Epoch ms when an idle runner unloads. */
  expiresAt: number;
  expiryTimer: NodeJS.Timeout | undefined;
  active: number;
  readonly waiters: Waiter[];
  unloaded: boolean;
}

/** What a request asks of the scheduler. */
export interface ScheduleRequest {
  readonly signal: CancelSignal;
  /** The request's `keep_alive`, ms; `undefined` keeps the runner's. */
  readonly keepAliveMs: number | undefined;
  /** The request's `options.num_ctx`; a different value than the resident runner's reloads it. */
  readonly numCtx: number | undefined;
}

/** A request's hold on a runner, from scheduling to its last byte. */
export interface Lease {
  readonly runner: Runner;
  /** Time spent getting the runner (queue + load), ms. */
  readonly loadMs: number;
  /** Takes a parallel slot: synchronously when one is free (returns undefined), else a promise. */
  acquireSlot(signal: CancelSignal): Promise<void> | undefined;
  /** Frees the slot (if held) and the runner reference. Idempotent. */
  release(): void;
}

interface Pending {
  readonly model: SimModel;
  readonly request: ScheduleRequest;
  readonly startedAt: number;
  settled: boolean;
  inQueue: boolean;
  resolve(lease: Lease): void;
  reject(error: SchedulerError): void;
}

export interface SchedulerOptions {
  maxQueue: number;
  maxLoadedModels: number;
  keepAliveMs: number;
  boundSlotWait: boolean;
  stats: SimStats;
}

function settleWithin(promise: Promise<unknown>, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

/** Model residency, loads, keep-alive and parallel slots. */
export class Scheduler {
  private readonly runners = new Map<string, Runner>();
  private readonly queue: Pending[] = [];
  private processing = false;
  private closed = false;
  private slotWaiting = 0;
  private changeListeners: (() => void)[] = [];
  private readonly loadTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: SchedulerOptions) {}

  /** Gets the model resident for this request: at once when it is, else through the queue. */
  acquire(model: SimModel, request: ScheduleRequest): Lease | Promise<Lease> {
    if (this.closed) return Promise.reject(closedError());
    const startedAt = performance.now();
    const runner = this.runners.get(model.key);
    if (runner && !runner.loading && !this.needsReload(runner, request))
      return this.assign(runner, request, startedAt);
    const pendingCount = this.queue.length + (this.options.boundSlotWait ? this.slotWaiting : 0);
    if (pendingCount >= this.options.maxQueue) return Promise.reject(busy());
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => {
        if (pending.inQueue) {
          const index = this.queue.indexOf(pending);
          if (index >= 0) this.queue.splice(index, 1);
          pending.inQueue = false;
          this.options.stats.leave(model.key, 'queued');
        }
        pending.reject(canceled());
      };
      const pending: Pending = {
        model,
        request,
        startedAt,
        settled: false,
        inQueue: true,
        resolve: (lease) => {
          if (pending.settled) return lease.release();
          pending.settled = true;
          request.signal.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        reject: (error) => {
          if (pending.settled) return;
          pending.settled = true;
          request.signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      if (request.signal.aborted) return reject(canceled());
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.options.stats.enter(model.key, 'queued');
      void this.process();
    });
  }

  /** Unloads a model now if idle, else when its last request ends (`keep_alive: 0` with no prompt). */
  expire(model: SimModel): void {
    const runner = this.runners.get(model.key);
    if (!runner || runner.loading) return;
    runner.sessionMs = 0;
    if (runner.refCount === 0) this.unload(runner);
  }

  /** Unloads every model: idle ones now, busy ones when their last request ends. */
  unloadAll(): void {
    for (const runner of [...this.runners.values()]) {
      if (runner.loading) continue;
      runner.sessionMs = 0;
      if (runner.refCount === 0) this.unload(runner);
    }
  }

  isLoaded(key: string): boolean {
    const runner = this.runners.get(key);
    return runner !== undefined && !runner.loading;
  }

  loadedCount(): number {
    let count = 0;
    for (const runner of this.runners.values()) if (!runner.loading) count++;
    return count;
  }

  /** Resident models for `/api/ps`, longest remaining first; waits while a model is loading. */
  async loaded(signal: CancelSignal): Promise<{ model: SimModel; expiresAt: number; numCtx: number }[]> {
    for (;;) {
      const loading = [...this.runners.values()].filter((runner) => runner.loading);
      if (loading.length === 0 || signal.aborted || this.closed) break;
      await settleWithin(Promise.allSettled(loading.map((runner) => runner.loaded)), signal);
    }
    const now = Date.now();
    return [...this.runners.values()]
      .filter((runner) => !runner.loading)
      .map((runner) => ({
        model: runner.model,
        expiresAt: runner.refCount > 0 || runner.expiresAt === 0 ? now + runner.sessionMs : runner.expiresAt,
        numCtx: runner.numCtx,
      }))
      .sort((a, b) => b.expiresAt - a.expiresAt);
  }

  /** Fails every wait and forgets every model. */
  close(): void {
    this.closed = true;
    for (const timer of this.loadTimers) clearTimeout(timer);
    this.loadTimers.clear();
    for (const pending of this.queue.splice(0)) {
      pending.inQueue = false;
      this.options.stats.leave(pending.model.key, 'queued');
      pending.reject(closedError());
    }
    for (const runner of this.runners.values()) {
      if (runner.expiryTimer) clearTimeout(runner.expiryTimer);
      for (const waiter of runner.waiters.splice(0)) waiter.reject(closedError());
    }
    this.runners.clear();
    this.notify();
  }

  private needsReload(runner: Runner, request: ScheduleRequest): boolean {
    return request.numCtx !== undefined && request.numCtx !== runner.numCtx;
  }

  private notify(): void {
    const listeners = this.changeListeners;
    this.changeListeners = [];
    for (const listener of listeners) listener();
  }

  private changed(signal: CancelSignal): Promise<void> {
    return settleWithin(new Promise<void>((resolve) => this.changeListeners.push(resolve)), signal);
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const pending = this.queue.shift() as Pending;
        pending.inQueue = false;
        this.options.stats.leave(pending.model.key, 'queued');
        if (pending.settled) continue;
        await this.place(pending);
      }
    } finally {
      this.processing = false;
    }
  }

  private async place(pending: Pending): Promise<void> {
    const { model, request } = pending;
    for (;;) {
      if (request.signal.aborted) return pending.reject(canceled());
      if (this.closed) return pending.reject(closedError());
      const runner = this.runners.get(model.key);
      if (runner?.loading) {
        await settleWithin(runner.loaded, request.signal);
        continue;
      }
      if (runner && !this.needsReload(runner, request)) {
        pending.resolve(this.assign(runner, request, pending.startedAt));
        return;
      }
      if (runner) {
        if (runner.refCount > 0) {
          await this.changed(request.signal);
          continue;
        }
        this.unload(runner);
        continue;
      }
      if (this.runners.size >= this.options.maxLoadedModels) {
        let victim: Runner | undefined;
        for (const candidate of this.runners.values()) {
          if (candidate.loading || candidate.refCount > 0) continue;
          if (!victim || candidate.expiresAt < victim.expiresAt) victim = candidate;
        }
        if (!victim) {
          await this.changed(request.signal);
          continue;
        }
        this.unload(victim);
        continue;
      }
      this.startLoad(pending);
      return;
    }
  }

  private startLoad(pending: Pending): void {
    const { model, request } = pending;
    let resolveLoaded!: () => void;
    let rejectLoaded!: (error: unknown) => void;
    const loaded = new Promise<void>((resolve, reject) => {
      resolveLoaded = resolve;
      rejectLoaded = reject;
    });
    loaded.catch(() => {});
    const runner: Runner = {
      model,
      numCtx: request.numCtx ?? DEFAULT_NUM_CTX,
      loading: true,
      loaded,
      refCount: 0,
      sessionMs: request.keepAliveMs ?? this.options.keepAliveMs,
      expiresAt: 0,
      expiryTimer: undefined,
      active: 0,
      waiters: [],
      unloaded: false,
    };
    this.runners.set(model.key, runner);
    this.options.stats.count(model.key, 'loads');
    const onAbort = () => {
      clearTimeout(timer);
      this.loadTimers.delete(timer);
      if (this.runners.get(model.key) === runner) this.runners.delete(model.key);
      runner.unloaded = true;
      rejectLoaded(canceled());
      pending.reject(canceled());
      this.notify();
    };
    const timer = setTimeout(() => {
      this.loadTimers.delete(timer);
      request.signal.removeEventListener('abort', onAbort);
      runner.loading = false;
      resolveLoaded();
      pending.resolve(this.assign(runner, request, pending.startedAt));
      this.notify();
    }, model.loadMs);
    this.loadTimers.add(timer);
    request.signal.addEventListener('abort', onAbort, { once: true });
  }

  private unload(runner: Runner): void {
    if (runner.expiryTimer) clearTimeout(runner.expiryTimer);
    runner.expiryTimer = undefined;
    runner.unloaded = true;
    if (this.runners.get(runner.model.key) === runner) this.runners.delete(runner.model.key);
    this.notify();
  }

  private assign(runner: Runner, request: ScheduleRequest, startedAt: number): Lease {
    runner.refCount++;
    if (runner.expiryTimer) {
      clearTimeout(runner.expiryTimer);
      runner.expiryTimer = undefined;
    }
    if (request.keepAliveMs !== undefined) runner.sessionMs = request.keepAliveMs;
    return new RunnerLease(this, runner, performance.now() - startedAt);
  }

  /** @internal Slot bookkeeping for {@link RunnerLease}. */
  slotWaitAllowed(): boolean {
    return !this.options.boundSlotWait || this.queue.length + this.slotWaiting < this.options.maxQueue;
  }

  /** @internal */
  enterSlotWait(key: string): void {
    this.slotWaiting++;
    this.options.stats.enter(key, 'waitingForSlot');
  }

  /** @internal */
  leaveSlotWait(key: string): void {
    this.slotWaiting--;
    this.options.stats.leave(key, 'waitingForSlot');
  }

  /** @internal */
  get stats(): SimStats {
    return this.options.stats;
  }

  /** @internal A lease ended: the runner may go idle, expire or unload. */
  released(runner: Runner): void {
    runner.refCount--;
    if (runner.refCount === 0 && !runner.unloaded && !this.closed) {
      if (runner.sessionMs <= 0) {
        this.unload(runner);
      } else if (runner.sessionMs < FOREVER_MS) {
        runner.expiresAt = Date.now() + runner.sessionMs;
        runner.expiryTimer = setTimeout(() => this.unload(runner), Math.min(runner.sessionMs, 2_147_483_647));
        runner.expiryTimer.unref();
      } else {
        runner.expiresAt = Date.now() + runner.sessionMs;
      }
    }
    if (this.changeListeners.length > 0) this.notify();
  }
}

/** A request's hold on a runner, and its parallel slot once taken. */
class RunnerLease implements Lease {
  private holdsSlot = false;
  private done = false;

  constructor(
    private readonly scheduler: Scheduler,
    readonly runner: Runner,
    readonly loadMs: number,
  ) {}

  private take(): void {
    this.holdsSlot = true;
    this.runner.active++;
    this.scheduler.stats.enter(this.runner.model.key, 'generating');
  }

  private free(): void {
    this.holdsSlot = false;
    const runner = this.runner;
    runner.active--;
    this.scheduler.stats.leave(runner.model.key, 'generating');
    const next = runner.waiters.shift();
    if (next) next.resolve();
  }

  acquireSlot(signal: CancelSignal): Promise<void> | undefined {
    const runner = this.runner;
    if (runner.active < runner.model.numParallel && runner.waiters.length === 0) {
      this.take();
      return undefined;
    }
    if (!this.scheduler.slotWaitAllowed()) return Promise.reject(busy());
    const key = runner.model.key;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(canceled());
      const waiter: Waiter = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          this.scheduler.leaveSlotWait(key);
          this.take();
          if (this.done) this.free();
          resolve();
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          this.scheduler.leaveSlotWait(key);
          reject(error);
        },
      };
      const onAbort = () => {
        const index = runner.waiters.indexOf(waiter);
        if (index >= 0) runner.waiters.splice(index, 1);
        waiter.reject(canceled());
      };
      this.scheduler.enterSlotWait(key);
      runner.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    if (this.done) return;
    this.done = true;
    if (this.holdsSlot) this.free();
    this.scheduler.released(this.runner);
  }
}
