// The request options a runner is started with (api.Runner): a request whose options differ from
// the resident runner's reloads the model (server/sched.go `needsReload`).
import type { SimModel } from './model-catalog.js';

/** Default `num_ctx` a model loads with when the request sets none (the automatic value). */
export const DEFAULT_NUM_CTX = 4096;
/** Default `num_batch`. */
const DEFAULT_NUM_BATCH = 512;

/** The runner options of a request, as sent (`undefined`: not set, the automatic value). */
export interface RunnerOptions {
  readonly numCtx?: number | undefined;
  readonly numBatch?: number | undefined;
  readonly numGpu?: number | undefined;
  readonly numThread?: number | undefined;
  readonly useMmap?: boolean | undefined;
  readonly mainGpu?: number | undefined;
}

/** What a runner was started with. */
export interface RunnerSettings {
  /** The context length in effect (capped at the model's trained length). */
  readonly numCtx: number;
  readonly numCtxAuto: boolean;
  readonly numBatch: number;
  readonly numBatchAuto: boolean;
  /** -1: all layers the server chooses. */
  readonly numGpu: number;
  readonly numThread: number;
  /** `undefined`: chosen by the server. */
  readonly useMmap: boolean | undefined;
  readonly mainGpu: number | undefined;
}

const NO_OPTIONS: RunnerOptions = {};

function integerOption(options: Record<string, unknown>, key: string): number | undefined {
  const value = options[key];
  return typeof value === 'number' ? Math.trunc(value) : undefined;
}

/** Reads the runner options from a request's (already type-checked) `options`. */
export function runnerOptionsOf(options: unknown): RunnerOptions {
  if (typeof options !== 'object' || options === null) return NO_OPTIONS;
  const record = options as Record<string, unknown>;
  const useMmap = record.use_mmap;
  const result: RunnerOptions = {
    numCtx: integerOption(record, 'num_ctx'),
    numBatch: integerOption(record, 'num_batch'),
    numGpu: integerOption(record, 'num_gpu'),
    numThread: integerOption(record, 'num_thread'),
    useMmap: typeof useMmap === 'boolean' ? useMmap : undefined,
    mainGpu: integerOption(record, 'main_gpu'),
  };
  return Object.values(result).every((value) => value === undefined) ? NO_OPTIONS : result;
}

function effectiveNumCtx(requested: number | undefined, model: SimModel): number {
  // getRunner raises num_ctx to at least 4; the runner caps it at the trained context length.
  const value = Math.max(requested ?? DEFAULT_NUM_CTX, 4);
  return model.contextLength > 0 ? Math.min(value, model.contextLength) : value;
}

/** The settings a runner started for this request has. */
export function runnerSettings(model: SimModel, options: RunnerOptions): RunnerSettings {
  return {
    numCtx: effectiveNumCtx(options.numCtx, model),
    numCtxAuto: options.numCtx === undefined,
    numBatch: options.numBatch ?? DEFAULT_NUM_BATCH,
    numBatchAuto: options.numBatch === undefined,
    numGpu: options.numGpu ?? -1,
    numThread: options.numThread ?? 0,
    useMmap: options.useMmap,
    mainGpu: options.mainGpu,
  };
}

/**
 * Whether a request needs the runner reloaded: any runner option differs (an automatic `num_ctx`
 * or `num_batch` matches a runner started with the automatic value; a negative `num_gpu` matches
 * any runner).
 */
export function needsReload(runner: RunnerSettings, model: SimModel, options: RunnerOptions): boolean {
  const wanted = options === NO_OPTIONS ? defaultSettings(model) : runnerSettings(model, options);
  if (!(runner.numCtxAuto && wanted.numCtxAuto) && runner.numCtx !== wanted.numCtx) return true;
  if (!(runner.numBatchAuto && wanted.numBatchAuto) && runner.numBatch !== wanted.numBatch) return true;
  if (wanted.numGpu >= 0 && wanted.numGpu !== runner.numGpu) return true;
  return (
    runner.numThread !== wanted.numThread ||
    runner.useMmap !== wanted.useMmap ||
    runner.mainGpu !== wanted.mainGpu
  );
}

const defaults = new WeakMap<SimModel, RunnerSettings>();

/** The settings of a request with no runner option, computed once per model. */
function defaultSettings(model: SimModel): RunnerSettings {
  let settings = defaults.get(model);
  if (!settings) {
    settings = runnerSettings(model, NO_OPTIONS);
    defaults.set(model, settings);
  }
  return settings;
}
