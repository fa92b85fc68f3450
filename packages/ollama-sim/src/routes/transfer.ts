// POST /api/pull, /api/push, /api/create: progress lines (server/images.go, server/create.go).
import { createHash } from 'node:crypto';
import { sleep } from '../cancel-signal.js';
import { createRequest, pullRequest, pushRequest } from '../go-decoding/index.js';
import { goJson } from '../go-json.js';
import { renameModel, resolveModel, type SimModel } from '../model-catalog.js';
import { isValidModelName, parseModelName } from '../model-name.js';
import { type Dialect, OLLAMA_DIALECT } from '../response-output.js';
import { decodeBody, type RouteContext } from '../sim-state.js';

/** One progress line, or an error in the stream (`status` set: before any output it is the HTTP status). */
export type ProgressStep =
  | {
      readonly status: string;
      readonly digest?: string;
      readonly total?: number;
      readonly completed?: number;
    }
  | { readonly error: string; readonly httpStatus?: number };

/** `streamResponse` errors before output use `application/json` without a charset. */
const PROGRESS_DIALECT: Dialect = {
  ...OLLAMA_DIALECT,
  errorBody: (_status, message) => ({ contentType: 'application/json', body: goJson({ error: message }) }),
};

interface Layer {
  digest: string;
  size: number;
}

function layersOf(model: SimModel): Layer[] {
  const hash = (salt: string) => createHash('sha256').update(`${model.digest}:${salt}`).digest('hex');
  return [
    { digest: `sha256:${hash('model')}`, size: Math.max(1, model.size - 8_972) },
    { digest: `sha256:${hash('template')}`, size: 1_429 },
    { digest: `sha256:${hash('license')}`, size: 7_711 },
    { digest: `sha256:${hash('params')}`, size: 96 },
    { digest: `sha256:${hash('config')}`, size: 561 },
  ];
}

/**
 * Streams progress steps (or answers the last one with `stream: false`), with scripted faults.
 * Resolves true when every step went out.
 */
export async function runProgress(
  context: RouteContext,
  steps: readonly ProgressStep[],
  stream: boolean,
): Promise<boolean> {
  const { output, signal } = context;
  output.useDialect(PROGRESS_DIALECT);
  const delayMs = context.fault?.tokenDelayMs ?? 0;
  if (stream) output.beginStream('application/x-ndjson', { batch: delayMs === 0 });
  let latest: ProgressStep | undefined;
  for (const [index, step] of steps.entries()) {
    if (index > 0 && delayMs > 0) await sleep(delayMs, signal);
    if (signal.aborted || output.stopped) return false;
    if ('error' in step) {
      if (stream && output.lines > 0) await output.fail(500, step.error);
      else if (stream) await output.streamError(step.httpStatus ?? 500, step.error);
      else await output.error(step.httpStatus ?? 500, step.error);
      return false;
    }
    latest = step;
    const wait = stream ? output.line(`${goJson(step)}\n`) : output.tick();
    if (wait) await wait;
    if (output.stopped || signal.aborted) return false;
  }
  if (stream) {
    await output.end();
    return !signal.aborted;
  }
  await output.body(200, 'application/json', goJson(latest ?? {}));
  return !output.stopped && !signal.aborted;
}

function pullSteps(model: SimModel): ProgressStep[] {
  const steps: ProgressStep[] = [{ status: 'pulling manifest' }];
  for (const layer of layersOf(model)) {
    const status = `pulling ${layer.digest.slice(7, 19)}`;
    if (layer.size > 100_000) {
      steps.push({ status, digest: layer.digest, total: layer.size });
      for (const fraction of [0.25, 0.5, 0.75]) {
        steps.push({
          status,
          digest: layer.digest,
          total: layer.size,
          completed: Math.round(layer.size * fraction),
        });
      }
    }
    steps.push({ status, digest: layer.digest, total: layer.size, completed: layer.size });
  }
  steps.push({ status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' });
  return steps;
}

function nameOf(body: Record<string, unknown>): string {
  if (typeof body.model === 'string' && body.model !== '') return body.model;
  return typeof body.name === 'string' ? body.name : '';
}

export async function handlePull(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, pullRequest);
  if (!body) return;
  const { output, sim } = context;
  const requested = nameOf(body).trim();
  if (requested === '' || !isValidModelName(parseModelName(requested)))
    return output.error(400, 'invalid model name');
  const stream = body.stream !== false;
  if (!sim.isPullable(requested)) {
    await runProgress(
      context,
      [{ status: 'pulling manifest' }, { error: 'pull model manifest: file does not exist' }],
      stream,
    );
    return;
  }
  const model = sim.find(requested) ?? resolveModel(requested, sim.settings.modelDefaults);
  if (await runProgress(context, pullSteps(model), stream)) sim.add(model);
}

export async function handlePush(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, pushRequest);
  if (!body) return;
  const { output, sim } = context;
  const requested = nameOf(body);
  if (requested === '') return output.error(400, 'model is required');
  const model = sim.find(requested);
  const steps: ProgressStep[] = [{ status: 'retrieving manifest' }];
  if (!model) {
    const name = parseModelName(requested);
    steps.push(
      { status: "couldn't retrieve manifest" },
      {
        error: `open /root/.ollama/models/manifests/${name.host}/${name.namespace}/${name.model}/${name.tag}: no such file or directory`,
      },
    );
  } else {
    for (const layer of layersOf(model)) {
      steps.push({
        status: `pushing ${layer.digest.slice(7, 19)}`,
        digest: layer.digest,
        total: layer.size,
        completed: layer.size,
      });
    }
    steps.push({ status: 'pushing manifest' }, { status: 'success' });
  }
  await runProgress(context, steps, body.stream !== false);
}

export async function handleCreate(context: RouteContext): Promise<void> {
  const body = await decodeBody(context, createRequest);
  if (!body) return;
  const { output, sim } = context;
  const requested = nameOf(body).trim();
  if (!isValidModelName(parseModelName(requested))) return output.error(400, 'invalid model name');
  const from = typeof body.from === 'string' ? body.from : '';
  const files =
    body.files && typeof body.files === 'object' ? Object.entries(body.files as Record<string, string>) : [];
  const stream = body.stream !== false;
  if (from === '' && files.length === 0) {
    await runProgress(
      context,
      [{ error: "neither 'from' or 'files' was specified", httpStatus: 400 }],
      stream,
    );
    return;
  }
  if (from !== '') {
    const base = sim.find(from);
    if (!base) {
      await runProgress(
        context,
        [{ status: 'pulling manifest' }, { error: 'pull model manifest: file does not exist' }],
        stream,
      );
      return;
    }
    const steps: ProgressStep[] = layersOf(base)
      .slice(0, 4)
      .map((layer) => ({ status: `using existing layer ${layer.digest}` }));
    steps.push({ status: 'writing manifest' }, { status: 'success' });
    const created = renameModel(base, requested);
    const system = typeof body.system === 'string' && body.system !== '' ? body.system : created.system;
    if (await runProgress(context, steps, stream)) sim.add({ ...created, system });
    return;
  }
  const steps: ProgressStep[] = [{ status: 'parsing GGUF' }];
  for (const [, digest] of files) steps.push({ status: `using existing layer ${digest}` });
  steps.push({ status: 'writing manifest' }, { status: 'success' });
  if (await runProgress(context, steps, stream)) sim.add(resolveModel(requested, sim.settings.modelDefaults));
}
