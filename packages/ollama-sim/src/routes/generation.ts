// The life of a generating request: scheduling (queue, load), a parallel slot, silent prompt
// evaluation, then one line per token, then the final line with the metrics.
import { sleep } from '../cancel-signal.js';
import { elapsedNs, nowMs } from '../go-json.js';
import type { SimModel } from '../model-catalog.js';
import type { Dialect } from '../response-output.js';
import type { RunnerOptions } from '../runner-options.js';
import { type Lease, SchedulerError } from '../scheduler.js';
import type { RouteContext } from '../sim-state.js';
import type { ReplyPlan } from '../simulated-reply.js';
import type { SimulatedToolCall } from '../types.js';

/** Timings and counts for the final line, in nanoseconds. */
export interface FinalInfo {
  readonly plan: ReplyPlan;
  readonly totalNs: number;
  readonly loadNs: number;
  readonly promptEvalNs: number;
  readonly evalNs: number;
}

/** Turns generation events into a route's wire format; also the route's error dialect. */
export interface GenerationEncoder extends Dialect {
  /** Content type of the stream. */
  readonly contentType: string;
  /** One token line (`thinking` selects the field). */
  token(piece: string, thinking: boolean): string;
  /** The line carrying tool calls. */
  toolCalls(calls: readonly SimulatedToolCall[]): string;
  /** The final line(s). */
  finalLine(info: FinalInfo): string;
  /** The whole answer as one body; `partial` when a fault ended it early. */
  single(info: FinalInfo, partial: boolean): { contentType: string; body: string };
}

export interface GenerationRequest {
  readonly model: SimModel;
  readonly plan: ReplyPlan;
  readonly encoder: GenerationEncoder;
  readonly stream: boolean;
  readonly keepAliveMs: number | undefined;
  readonly runnerOptions: RunnerOptions;
  /** An error the runner raises before the first token (e.g. a bad `format`): answered with 500. */
  readonly runnerError?: string | undefined;
}

/** Lines written between two yields to the event loop when nothing else waits. */
const YIELD_EVERY = 512;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Gets the model resident and holds it for the request, answering Ollama's scheduling errors
 * itself. Returns the lease (synchronously when the model is resident), or undefined when the
 * request is over.
 */
export function schedule(
  context: RouteContext,
  model: SimModel,
  keepAliveMs: number | undefined,
  runnerOptions: RunnerOptions,
): Lease | Promise<Lease | undefined> {
  let acquired: Lease | Promise<Lease>;
  try {
    acquired = context.sim.scheduler.acquire(model, { signal: context.signal, keepAliveMs, runnerOptions });
  } catch (error) {
    return answerScheduleError(context, error);
  }
  if (!(acquired instanceof Promise)) return acquired;
  return acquired.then(
    (lease) => {
      if (!context.signal.aborted) return lease;
      lease.release();
      return undefined;
    },
    (error) => answerScheduleError(context, error),
  );
}

async function answerScheduleError(context: RouteContext, error: unknown): Promise<undefined> {
  if (!(error instanceof SchedulerError)) throw error;
  await context.output.error(error.status, error.message);
  return undefined;
}

/** Runs a generation to its end, or until the client leaves or a fault ends it. */
export async function runGeneration(context: RouteContext, request: GenerationRequest): Promise<void> {
  const { output, signal, record } = context;
  const { model, plan, encoder, stream } = request;
  output.useDialect(encoder);
  const scheduled = schedule(context, model, request.keepAliveMs, request.runnerOptions);
  const lease = scheduled instanceof Promise ? await scheduled : scheduled;
  if (!lease) return;
  const loadedAt = nowMs();
  try {
    try {
      const slot = lease.acquireSlot(signal);
      if (slot) await slot;
    } catch (error) {
      if (error instanceof SchedulerError) return void (await output.error(error.status, error.message));
      throw error;
    }
    if (signal.aborted) return;
    const slotAt = nowMs();
    if (model.promptEvalMs > 0) await sleep(model.promptEvalMs, signal);
    if (signal.aborted) return;
    if (request.runnerError !== undefined) {
      // Sent through the handler's channel: a stream answers it as streamResponse does.
      return void (await (stream
        ? output.streamError(500, request.runnerError)
        : output.error(500, request.runnerError)));
    }
    const evalStart = nowMs();
    const tokenDelayMs = context.fault?.tokenDelayMs ?? model.tokenDelayMs;
    if (stream) output.beginStream(encoder.contentType, { batch: tokenDelayMs === 0 });

    const thinkingCount = plan.thinkingChunks.length;
    const total = thinkingCount + plan.chunks.length;
    // A short non-streamed answer without delays or faults runs its loop without a pause: count
    // its chunks at once.
    const counted = !stream && tokenDelayMs === 0 && total < YIELD_EVERY && output.tickAll(total);
    let sinceYield = 0;
    for (let index = counted ? total : 0; index < total; index++) {
      if (tokenDelayMs > 0) {
        await sleep(tokenDelayMs, signal);
      } else if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await yieldToLoop();
      }
      if (signal.aborted) return;
      const thinking = index < thinkingCount;
      const piece = (thinking ? plan.thinkingChunks[index] : plan.chunks[index - thinkingCount]) as string;
      const wait = stream ? output.line(encoder.token(piece, thinking)) : output.tick();
      if (wait) await wait;
      if (output.stopped || signal.aborted) return;
    }
    if (plan.toolCalls) {
      // The tool call is generated token by token but buffered by the parser: a silent gap.
      if (tokenDelayMs > 0) await sleep(tokenDelayMs * plan.silentTokens, signal);
      if (signal.aborted) return;
      const wait = stream ? output.line(encoder.toolCalls(plan.toolCalls)) : output.tick();
      if (wait) await wait;
      if (output.stopped || signal.aborted) return;
    }
    const end = nowMs();
    const info: FinalInfo = {
      plan,
      totalNs: elapsedNs(record.startedAt, end),
      loadNs: elapsedNs(record.startedAt, loadedAt),
      promptEvalNs: elapsedNs(slotAt, evalStart),
      evalNs: elapsedNs(evalStart, end),
    };
    if (stream) {
      await output.finalLine(encoder.finalLine(info));
    } else {
      const { contentType, body } = encoder.single(info, output.endedEarly);
      await output.body(200, contentType, body);
    }
  } finally {
    lease.release();
  }
}
