// Ollama's two waits (server/sched.go, v0.30 and later): a bounded scheduling queue for requests
// that need a model load or reload, served one at a time by a scheduler that loads one model at a
// time; and per-model parallel slots that later requests wait for in order, without bound.
import type { CancelSignal } from './cancel-signal.js';
import { FOREVER_MS } from './go-duration.js';
import type { SimModel } from './model-catalog.js';
import { needsReload, type RunnerOptions, type RunnerSettings, runnerSettings } from './runner-options.js';
import type { SimStats } from './sim-stats.js';

export { DEFAULT_NUM_CTX } from './runner-options.js';

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

interface Waiter {
  resolve(): void;
  reject(error: SchedulerError): void;
}

/** A resident model. A model being loaded has no runner yet. */
export interface Runner {
  readonly model: SimModel;
  readonly settings: RunnerSettings;
  /** Parallel slots: the model's `numParallel`, 1 for a model that cannot complete (embeddings). */
  readonly numParallel: number;
  refCount: number;
  /** Keep-alive after the last request, ms; 0 unloads at once. */
  sessionMs: number;
  /** Set when the scheduler chose it to unload: it goes as soon as it is idle. */
  evicting: boolean;
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
  /** The request's runner options; any difference with the resident runner's reloads it. */
  readonly runnerOptions: RunnerOptions;
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

/** One entry of `/api/ps`. */
export interface LoadedModel {
  readonly model: SimModel;
  readonly expiresAt: number;
  readonly numCtx: number;
}

/**
 * Model residency, loads, keep-alive and parallel slots. A request for a resident model whose
 * runner options match gets it at once; any other enters the queue (`OLLAMA_MAX_QUEUE` places, a
 * place held until the scheduler pops it, even when its client left), and the scheduler takes
 * them one by one: it evicts or reloads as needed and loads one model at a time, the next request
 * waiting until that load ends.
 */
export class Scheduler {
  /** Resident runners (a model being loaded is not one yet). */
  private readonly runners = new Map<string, Runner>();
  private readonly queue: Pending[] = [];
  private processing = false;
  private closed = false;
  private slotWaiting = 0;
  private changeListeners: (() => void)[] = [];
  /** Ends the load in progress at once (simulator closing). */
  private stopLoad: (() => void) | undefined;

  constructor(private readonly options: SchedulerOptions) {}

  /** Gets the model resident for this request: at once when it is, else through the queue. */
  acquire(model: SimModel, request: ScheduleRequest): Lease | Promise<Lease> {
    if (this.closed) return Promise.reject(closedError());
    const startedAt = performance.now();
    const runner = this.runners.get(model.key);
    if (runner && !runner.evicting && !needsReload(runner.settings, model, request.runnerOptions))
      return this.assign(runner, request, startedAt);
    if (!this.admits()) return Promise.reject(busy());
    if (request.signal.aborted) return Promise.reject(canceled());
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = () => pending.reject(canceled());
      const pending: Pending = {
        model,
        request,
        startedAt,
        settled: false,
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
      // A client that leaves gets its answer now but keeps its place in the queue until the
      // scheduler pops it and skips it, as Ollama's channel does.
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.options.stats.enter(model.key, 'queued');
      void this.process();
    });
  }

  /**
   * Whether the queue takes one more request: a place is free among `maxQueue` (slot waits count
   * too with `boundSlotWait`), or, with `maxQueue: 0` (an unbuffered channel), the scheduler is idle.
   */
  private admits(): boolean {
    const taken = this.queue.length + (this.options.boundSlotWait ? this.slotWaiting : 0);
    return taken < this.options.maxQueue || (taken === 0 && !this.processing);
  }

  /** Unloads a model now if idle, else when its last request ends (`keep_alive: 0` with no prompt). */
  expire(model: SimModel): void {
    const runner = this.runners.get(model.key);
    if (!runner) return;
    runner.sessionMs = 0;
    if (runner.refCount === 0) this.unload(runner);
  }

  /** Unloads every model: idle ones now, busy ones when their last request ends. */
  unloadAll(): void {
    for (const runner of [...this.runners.values()]) {
      runner.sessionMs = 0;
      if (runner.refCount === 0) this.unload(runner);
    }
  }

  isLoaded(key: string): boolean {
    return this.runners.has(key);
  }

  loadedCount(): number {
    return this.runners.size;
  }

  /** Resident models for `/api/ps`, longest remaining first. A model still loading is not listed. */
  loaded(): LoadedModel[] {
    const now = Date.now();
    return [...this.runners.values()]
      .map((runner) => ({
        model: runner.model,
        expiresAt: runner.refCount > 0 || runner.expiresAt === 0 ? now + runner.sessionMs : runner.expiresAt,
        numCtx: runner.settings.numCtx,
      }))
      .sort((a, b) => Math.floor(b.expiresAt / 1000) - Math.floor(a.expiresAt / 1000));
  }

  /** Fails every wait and forgets every model. */
  close(): void {
    this.closed = true;
    this.stopLoad?.();
    for (const pending of this.queue.splice(0)) {
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

  private notify(): void {
    const listeners = this.changeListeners;
    this.changeListeners = [];
    for (const listener of listeners) listener();
  }

  /** Resolves at the next unload, release or close. */
  private changed(): Promise<void> {
    return new Promise<void>((resolve) => this.changeListeners.push(resolve));
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const pending = this.queue.shift() as Pending;
        this.options.stats.leave(pending.model.key, 'queued');
        if (pending.settled || pending.request.signal.aborted) {
          pending.reject(canceled());
          continue;
        }
        await this.place(pending);
      }
    } finally {
      this.processing = false;
    }
  }

  /** Finds or makes room for the pending request's runner; returns once it has one or failed. */
  private async place(pending: Pending): Promise<void> {
    const { model, request } = pending;
    for (;;) {
      if (this.closed) return pending.reject(closedError());
      if (request.signal.aborted) return pending.reject(canceled());
      const runner = this.runners.get(model.key);
      let victim: Runner | undefined;
      if (runner) {
        if (!needsReload(runner.settings, model, request.runnerOptions)) {
          if (runner.evicting) {
            // Chosen to unload for an earlier request: this one gets it back.
            runner.evicting = false;
          }
          pending.resolve(this.assign(runner, request, pending.startedAt));
          return;
        }
        victim = runner;
      } else if (this.runners.size >= this.options.maxLoadedModels) {
        victim = this.runnerToUnload();
      } else {
        await this.load(pending);
        return;
      }
      if (!victim) continue;
      // Expire it at once, and wait until it has unloaded (after its last request, if busy).
      victim.evicting = true;
      victim.sessionMs = 0;
      if (victim.expiryTimer) clearTimeout(victim.expiryTimer);
      victim.expiryTimer = undefined;
      if (victim.refCount === 0) this.unload(victim);
      while (!victim.unloaded && !this.closed) await this.changed();
    }
  }

  /** `findRunnerToUnload`: the shortest keep-alive first (ties by name), an idle one if any. */
  private runnerToUnload(): Runner | undefined {
    const list = [...this.runners.values()].sort(
      (a, b) =>
        a.sessionMs - b.sessionMs || (a.model.key < b.model.key ? -1 : a.model.key > b.model.key ? 1 : 0),
    );
    return list.find((runner) => runner.refCount === 0) ?? list[0];
  }

  /** Loads the model for the pending request; the scheduler does nothing else meanwhile. */
  private async load(pending: Pending): Promise<void> {
    const { model, request } = pending;
    this.options.stats.count(model.key, 'loads');
    // Leaving during the load aborts it (the load runs under the request's context).
    const finished = await new Promise<boolean>((resolve) => {
      const end = (loaded: boolean) => {
        clearTimeout(timer);
        request.signal.removeEventListener('abort', onAbort);
        this.stopLoad = undefined;
        resolve(loaded);
      };
      const onAbort = () => end(false);
      const timer = setTimeout(() => end(true), model.loadMs);
      this.stopLoad = onAbort;
      request.signal.addEventListener('abort', onAbort, { once: true });
    });
    if (this.closed) return pending.reject(closedError());
    if (!finished) return pending.reject(canceled());
    const runner: Runner = {
      model,
      settings: runnerSettings(model, request.runnerOptions),
      numParallel: model.capabilities.includes('completion') ? model.numParallel : 1,
      refCount: 0,
      sessionMs: request.keepAliveMs ?? this.options.keepAliveMs,
      evicting: false,
      expiresAt: 0,
      expiryTimer: undefined,
      active: 0,
      waiters: [],
      unloaded: false,
    };
    this.runners.set(model.key, runner);
    pending.resolve(this.assign(runner, request, pending.startedAt));
    this.notify();
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
    if (request.keepAliveMs !== undefined && !runner.evicting) runner.sessionMs = request.keepAliveMs;
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
    if (runner.active < runner.numParallel && runner.waiters.length === 0) {
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
