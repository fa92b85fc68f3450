import type { Fault, FaultRequest } from '@bulwark/ollama-sim';
import { seededRandom } from './support.js';

/** What the simulator does to a call. `none` is a healthy call. */
export type FaultKind =
  | 'none'
  | 'hang'
  | 'stall'
  | 'reset-early'
  | 'reset-mid'
  | 'close-mid-line'
  | 'malformed-line'
  | 'error-line'
  | 'busy-503'
  | 'status-500'
  | 'slow-drip'
  | 'oversized-line'
  | 'crawl';

/** The line size above which the chaos clients fail a line (`maxLineBytes`). */
export const MAX_LINE_BYTES = 100_000;

interface KindSpec {
  /** The simulator fault, without its selection. */
  fault: Omit<Fault, 'when' | 'name'>;
  /** Every attempt of the call gets it; otherwise only the first (a retry then succeeds). */
  persistent: boolean;
}

/** Every faulted kind: how the simulator produces it. */
export const KINDS: Readonly<Record<Exclude<FaultKind, 'none'>, KindSpec>> = {
  hang: { fault: { kind: 'hang' }, persistent: true },
  stall: { fault: { kind: 'stall', afterChunks: 3 }, persistent: true },
  'reset-early': { fault: { kind: 'reset', afterChunks: 0 }, persistent: false },
  'reset-mid': { fault: { kind: 'reset', afterChunks: 3 }, persistent: true },
  'close-mid-line': { fault: { kind: 'close-mid-line', afterChunks: 3 }, persistent: true },
  'malformed-line': { fault: { kind: 'malformed-line', afterChunks: 2 }, persistent: true },
  'error-line': {
    fault: { kind: 'error-line', afterChunks: 2, message: 'CUDA error: out of memory' },
    persistent: true,
  },
  'busy-503': {
    fault: {
      kind: 'status',
      status: 503,
      message: 'server busy, please try again.  maximum pending requests exceeded',
    },
    persistent: false,
  },
  'status-500': { fault: { kind: 'status', status: 500 }, persistent: true },
  'slow-drip': { fault: { dripBytes: 48, dripIntervalMs: 1 }, persistent: true },
  'oversized-line': {
    fault: { kind: 'oversized-line', afterChunks: 2, lineBytes: MAX_LINE_BYTES * 2 },
    persistent: true,
  },
  // Tokens come just often enough to beat the idle budget, never fast enough to finish in time: the
  // total deadline ends the call. It asks a model of its own, so its bulkhead keeps the others' free.
  crawl: { fault: { tokenDelayMs: 300 }, persistent: true },
};

/** The model every `crawl` call asks. */
export const CRAWL_MODEL = 'mistral';

export const FAULTED_KINDS = Object.keys(KINDS) as Exclude<FaultKind, 'none'>[];

export interface PlannedCall {
  id: number;
  kind: FaultKind;
  streamed: boolean;
  model: string;
  prompt: string;
}

/** A seeded plan: which call gets which fault, whether it streams, which model it asks. */
export function planCalls(options: {
  seed: number;
  calls: number;
  faultedShare: number;
  models: readonly string[];
}): PlannedCall[] {
  const random = seededRandom(options.seed);
  const plan: PlannedCall[] = [];
  for (let id = 0; id < options.calls; id++) {
    const faulted = random() < options.faultedShare;
    const kind: FaultKind = faulted
      ? (FAULTED_KINDS[Math.floor(random() * FAULTED_KINDS.length)] as FaultKind)
      : 'none';
    const streamed = random() < 0.5;
    const drawn = options.models[Math.floor(random() * options.models.length)] as string;
    const model = kind === 'crawl' ? CRAWL_MODEL : drawn;
    plan.push({ id, kind, streamed, model, prompt: `chaos seed ${options.seed} call ${id} ${kind}` });
  }
  return plan;
}

const MARK = /chaos seed \d+ call (\d+) ([a-z0-9-]+)/;

/** The call id and kind a request carries in its prompt. */
export function markOf(body: unknown): { id: number; kind: FaultKind } | undefined {
  const messages = (body as { messages?: { content?: unknown }[] } | undefined)?.messages;
  const content = messages?.[0]?.content;
  if (typeof content !== 'string') return undefined;
  const match = MARK.exec(content);
  return match ? { id: Number(match[1]), kind: match[2] as FaultKind } : undefined;
}

/**
 * The simulator's faults for a plan: one per kind, selected by the kind in the prompt. A transient
 * kind applies to a call's first attempt only. Decisions are kept per request, so the predicate may
 * run any number of times for one request.
 */
export function faultsFor(): Fault[] {
  const attempts = new Map<number, number>();
  const decided = new Map<number, { kind: FaultKind; attempt: number }>();
  const decide = (request: FaultRequest) => {
    let decision = decided.get(request.index);
    if (!decision) {
      const mark = markOf(request.body);
      if (!mark) return undefined;
      const attempt = attempts.get(mark.id) ?? 0;
      attempts.set(mark.id, attempt + 1);
      decision = { kind: mark.kind, attempt };
      decided.set(request.index, decision);
    }
    return decision;
  };
  return FAULTED_KINDS.map((kind) => ({
    name: kind,
    ...KINDS[kind].fault,
    when: (request: FaultRequest) => {
      const decision = decide(request);
      return decision?.kind === kind && (KINDS[kind].persistent || decision.attempt === 0);
    },
  }));
}
