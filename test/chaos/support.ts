import { inspect } from 'node:util';

/** The secret every chaos client sends; it must never show up in an error, a log line or a span. */
export const SECRET = 'sk-CHAOS-SECRET';

/** Everything an error shows: message, stack, own properties and the whole cause chain. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) parts.push(current.message, current.stack ?? '');
    parts.push(inspect(current, { depth: 6, showHidden: true }));
    if (current instanceof AggregateError) parts.push(...current.errors.map(errorText));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/** Mulberry32: a small seeded generator, so a run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Counts of `process.getActiveResourcesInfo()` by kind. */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

/** Kinds whose count grew from `before` to `after`. */
export function grownResources(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, count] of Object.entries(after)) {
    const grown = count - (before[kind] ?? 0);
    if (grown > 0) out[kind] = grown;
  }
  return out;
}
