/** Summary of the rounds of one measurement: the median and the spread around it. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max − min) / median, as a fraction. */
  spread: number;
  rounds: number[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

export function summarize(rounds: readonly number[]): Summary {
  const m = median(rounds);
  const min = Math.min(...rounds);
  const max = Math.max(...rounds);
  return { median: m, min, max, spread: m === 0 ? 0 : (max - min) / m, rounds: [...rounds] };
}

/** Runs `measure` `count` times (after one warm-up round unless `warmup` is false). */
export async function rounds(count: number, measure: () => Promise<number>, warmup = true): Promise<Summary> {
  if (warmup) await measure();
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(await measure());
  return summarize(values);
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatSummary(summary: Summary, unit: string, digits = 0): string {
  return `${formatNumber(summary.median, digits)} ${unit} ±${Math.round(summary.spread * 50)}%`;
}

/** `a`'s median over `b`'s, or NaN when either is missing. */
export function ratio(a: Summary | undefined, b: Summary | undefined): number {
  return a && b ? a.median / b.median : Number.NaN;
}
