import {
  type Context,
  createContext,
  Emitter,
  type Event,
  type ModelLoadEndEvent,
  type ModelLoadStartEvent,
  ResponseError,
  TimeoutError,
} from '@bulwark/core';
import { cancelOf } from '@bulwark/core/internal';
import { keepAliveMs } from './keep-alive.js';
import type { ModelEntry, ModelStates, OwnedLoad } from './model-states.js';
import type { SharedState } from './shared-state.js';
import type { OllamaTransport } from './transport.js';

type Json = Record<string, unknown>;

/** The load request's own header and first-line budgets come after its `loadMs` timer. */
const LOAD_BACKSTOP_MS = 1_000;

/** What a call asks of a load: the caller's keep-alive and runner options. */
export interface LoadRequest {
  readonly keepAlive: unknown;
  readonly options: unknown;
  readonly kind: 'generate' | 'embed';
}

/** Why an owned load stopped when the client closed. */
class ClientClosed extends Error {
  constructor() {
    super('The client was closed while a model was loading');
    this.name = 'AbortError';
  }
}

/**
 * A copy of an error for one waiter: the waiters of one failed load each get their own object, so
 * what one caller's policies do with theirs never shows on another's.
 */
function ownCopy(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return Object.defineProperties(
    Object.create(Object.getPrototypeOf(error)),
    Object.getOwnPropertyDescriptors(error),
  );
}

/**
 * Loads owned by the client: a call to a model that is not known warm first waits for a load-only
 * request (Ollama's empty prompt, or an empty embed for embedding models) with the call's
 * keep-alive. One load per (host, model) at a time, whatever the number of callers; it runs under
 * its own `loadMs` budget and outlives every caller: a caller whose signal or deadline ends stops
 * waiting at once, and the load goes on so that the next call finds the model warm.
 */
export class ModelLoads {
  readonly states: ModelStates;
  readonly loadMs: number;
  readonly #transport: OllamaTransport;
  readonly #host: string;
  readonly #start = new Emitter<ModelLoadStartEvent>();
  readonly #end = new Emitter<ModelLoadEndEvent>();
  readonly #running = new Set<OwnedLoad>();
  /** Set once the client has shared state: each load is claimed there first. */
  shared: SharedState | undefined;
  /** A load Bulwark owns was sent. */
  readonly onLoadStart: Event<ModelLoadStartEvent> = this.#start.event;
  /** A load Bulwark owns ended: loaded, failed, timed out or aborted. */
  readonly onLoadEnd: Event<ModelLoadEndEvent> = this.#end.event;

  constructor(options: { states: ModelStates; transport: OllamaTransport; host: string; loadMs: number }) {
    this.states = options.states;
    this.loadMs = options.loadMs;
    this.#transport = options.transport;
    this.#host = options.host;
  }

  /**
   * Before a call to `model`: `undefined` when the model is known warm (nothing to wait for),
   * otherwise a promise that settles when the shared load did (or the caller stopped waiting).
   */
  ready(context: Context, model: string, request: LoadRequest): Promise<void> | undefined {
    const entry = this.states.entry(this.#host, model);
    if (entry.kind === undefined) entry.kind = request.kind;
    const running = entry.load;
    if (running) return this.#wait(context, entry, running);
    if (this.states.isWarm(entry)) return undefined;
    return this.#wait(context, entry, this.#begin(entry, request));
  }

  /** Loads `model` (or joins its load) and refreshes its keep-alive; `signal` ends the wait only. */
  load(model: string, keepAlive: unknown, signal: AbortSignal | undefined): Promise<void> {
    const entry = this.states.entry(this.#host, model);
    const load =
      entry.load ?? this.#begin(entry, { keepAlive, options: undefined, kind: entry.kind ?? 'generate' });
    return this.#wait(createContext({ signal, clock: this.states.clock }), entry, load);
  }

  /** The model answered a call: warm for the call's keep-alive, or cold after an unload answer. */
  learn(model: string, answer: Json | undefined, keepAlive: unknown): void {
    const entry =
      answer?.done_reason === 'load'
        ? this.states.entry(this.#host, model)
        : this.states.peek(this.#host, model);
    if (!entry || entry.load) return;
    if (answer?.done_reason === 'unload') this.states.cold(entry);
    else this.states.warmFor(entry, keepAlive === undefined ? undefined : keepAliveMs(keepAlive));
  }

  /** A call failed: a 404 means the server has no such model, so its state is forgotten. */
  failed(model: string, error: unknown): void {
    if (!(error instanceof ResponseError) || error.status !== 404) return;
    const entry = this.states.peek(this.#host, model);
    if (entry) this.states.forget(entry);
  }

  /** Marks `model` cold (after an unload). */
  unloaded(model: string): void {
    const entry = this.states.peek(this.#host, model);
    if (entry && !entry.load) this.states.cold(entry);
  }

  /** Stops every load in flight. */
  close(): void {
    for (const load of [...this.#running]) load.controller.abort(new ClientClosed());
  }

  #begin(entry: ModelEntry, request: LoadRequest): OwnedLoad {
    const clock = this.states.clock;
    const controller = new AbortController();
    const startedAt = clock.now();
    const { host, model } = entry;
    const loadMs = this.loadMs;
    const timer = clock.setTimeout(() => {
      controller.abort(
        new TimeoutError({
          phase: 'load',
          timeoutMs: loadMs,
          elapsedMs: clock.now() - startedAt,
          load: { model, host, loadingMs: clock.now() - startedAt, continues: false },
          host,
        }),
      );
    }, loadMs);
    const context = createContext({
      signal: controller.signal,
      clock,
      attributes: { operation: 'load', model, host, provider: 'ollama' },
    }).with({
      budgets: { headersMs: loadMs + LOAD_BACKSTOP_MS, firstTokenMs: loadMs + LOAD_BACKSTOP_MS },
    });
    const load: OwnedLoad = {
      startedAt,
      failureClaimed: false,
      controller,
      promise: undefined as unknown as Promise<void>,
    };
    // Without shared state the load is sent at once; with it, once claimed (another process may
    // load the model meanwhile, and then nothing is sent).
    let sent = false;
    let endClaim: ((warmMs: number) => void) | undefined;
    let sharedWarmMs: number | undefined;
    const send = (announce: boolean) => {
      sent = true;
      if (announce && this.#start.size > 0) this.#start.emit({ host, model, startedAt });
      return this.#send(context, entry, request);
    };
    const shared = this.shared;
    const run = shared
      ? shared.turn(entry, controller.signal).then((turn) => {
          if (turn.state === 'warm') sharedWarmMs = turn.warmMs;
          else {
            if (turn.state === 'claimed') endClaim = turn.end;
            return send(true);
          }
        })
      : send(false);
    const finish = (outcome: ModelLoadEndEvent['outcome'], error: unknown) => {
      timer.clear();
      this.#running.delete(load);
      const durationMs = clock.now() - startedAt;
      if (entry.load === load) {
        entry.load = undefined;
        if (sharedWarmMs !== undefined) {
          entry.warmUntil =
            sharedWarmMs === Number.POSITIVE_INFINITY ? sharedWarmMs : clock.now() + sharedWarmMs;
          entry.sharedUntil = entry.warmUntil;
        } else if (outcome === 'loaded') {
          entry.lastLoadMs = durationMs;
          const ms = keepAliveMs(request.keepAlive);
          this.states.warmFor(entry, ms === 0 ? undefined : ms);
        } else {
          this.states.cold(entry);
        }
      }
      endClaim?.(outcome === 'loaded' ? Math.max(0, entry.warmUntil - clock.now()) : 0);
      if (sent && this.#end.size > 0) this.#end.emit({ host, model, startedAt, durationMs, outcome, error });
    };
    (load as { promise: Promise<void> }).promise = run.then(
      () => finish('loaded', undefined),
      (error: unknown) => {
        const reason = controller.signal.reason;
        const outcome =
          controller.signal.aborted && error === reason
            ? reason instanceof ClientClosed
              ? 'aborted'
              : 'timeout'
            : 'failed';
        finish(outcome, error);
        throw error;
      },
    );
    load.promise.catch(() => {});
    entry.load = load;
    this.#running.add(load);
    if (!shared && this.#start.size > 0) this.#start.emit({ host, model, startedAt });
    return load;
  }

  /** The load-only request; an unknown model that cannot generate is loaded as an embedding model. */
  async #send(context: Context, entry: ModelEntry, request: LoadRequest): Promise<void> {
    const keepAlive = keepAliveMs(request.keepAlive) === 0 ? undefined : request.keepAlive;
    const body: Json = { model: entry.model };
    if (keepAlive !== undefined) body.keep_alive = keepAlive;
    if (request.options !== undefined) body.options = request.options;
    if (entry.kind === 'embed' || request.kind === 'embed') {
      await this.#transport.json(context, 'POST', '/api/embed', { ...body, input: [] }, entry.model);
      return;
    }
    try {
      await this.#transport.stream(
        context,
        '/api/generate',
        { ...body, prompt: '', stream: true },
        { model: entry.model, isFirst: isDone, isFinal: isDone, deliver: () => {} },
      );
    } catch (error) {
      // `"NAME" does not support generate`: an embedding model, loaded by an empty embed.
      if (
        entry.kind === undefined &&
        error instanceof ResponseError &&
        error.status === 400 &&
        /does not support/.test(error.serverMessage ?? '')
      ) {
        entry.kind = 'embed';
        await this.#transport.json(context, 'POST', '/api/embed', { ...body, input: [] }, entry.model);
        return;
      }
      throw error;
    }
  }

  /** One caller's wait on a load: reported to the policies around it, ended by its signal. */
  #wait(context: Context, entry: ModelEntry, load: OwnedLoad): Promise<void> {
    const { host, model } = entry;
    const clock = context.clock;
    const at = clock.now();
    // In the caller's clock, when the load started.
    const loadStartedAt = at - (this.states.clock.now() - load.startedAt);
    context.reportModelLoad({ type: 'wait-start', model, host, loadStartedAt, at });
    const cancel = cancelOf(context);
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let stopListening = (): void => {};
      const end = (outcome: 'loaded' | 'failed' | 'left', countsAsFailure: boolean): boolean => {
        if (done) return false;
        done = true;
        stopListening();
        const now = clock.now();
        context.reportModelLoad({
          type: 'wait-end',
          model,
          host,
          loadStartedAt,
          at: now,
          waitedMs: now - at,
          outcome,
          countsAsFailure,
        });
        return true;
      };
      const onAbort = () => {
        if (end('left', false)) reject(cancel.reason);
      };
      if (cancel.aborted) {
        onAbort();
        return;
      }
      stopListening = cancel.onAbort(onAbort);
      load.promise.then(
        () => {
          if (end('loaded', false)) resolve();
        },
        (error: unknown) => {
          if (done) return;
          const counts = !load.failureClaimed;
          load.failureClaimed = true;
          end('failed', counts);
          reject(ownCopy(error));
        },
      );
    });
  }
}

function isDone(record: Json): boolean {
  return record.done === true;
}
