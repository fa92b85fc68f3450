// Go's time.ParseDuration and Ollama's keep_alive decoding (api.Duration.UnmarshalJSON).

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Result of parsing: milliseconds, or the Go error text. */
export type DurationResult = { ms: number } | { error: string };

/** `time.ParseDuration`: `"300ms"`, `"1.5h"`, `"2h45m"`, `"-1s"`, `"0"`. Errors carry Go's text. */
export function parseGoDuration(text: string): DurationResult {
  const invalid = { error: `time: invalid duration ${quote(text)}` };
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return { ms: 0 };
  if (rest === '') return invalid;
  let total = 0;
  while (rest !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const first = rest.charCodeAt(0);
    if (!(first === 46 || (first >= 48 && first <= 57)) || !number) return invalid;
    const [matched, whole = '', fraction] = number;
    if (whole === '' && (fraction === undefined || fraction === '')) return invalid;
    rest = rest.slice(matched.length);
    let unitEnd = 0;
    while (unitEnd < rest.length) {
      const code = rest.charCodeAt(unitEnd);
      if (code === 46 || (code >= 48 && code <= 57)) break;
      unitEnd++;
    }
    if (unitEnd === 0) return { error: `time: missing unit in duration ${quote(text)}` };
    const unit = rest.slice(0, unitEnd);
    rest = rest.slice(unitEnd);
    const scale = unitMs[unit];
    if (scale === undefined) return { error: `time: unknown unit ${quote(unit)} in duration ${quote(text)}` };
    total += Number(`${whole || '0'}.${fraction ?? ''}0`) * scale;
    if (total > 9_223_372_036_854) return invalid;
  }
  return { ms: negative ? -total : total };
}

/** Forever, as Ollama's `time.Duration(math.MaxInt64)`: about 292 years. */
export const FOREVER_MS = 9_223_372_036_854;

/**
 * Decodes a `keep_alive` value as Ollama does: a number is seconds, a string a Go duration, a
 * negative value forever. Returns milliseconds, or the error text Ollama answers with (400).
 */
export function decodeKeepAlive(value: unknown): DurationResult {
  if (typeof value === 'number') return { ms: value < 0 ? FOREVER_MS : value * 1000 };
  if (typeof value === 'string') {
    const parsed = parseGoDuration(value);
    if ('error' in parsed) return parsed;
    return { ms: parsed.ms < 0 ? FOREVER_MS : parsed.ms };
  }
  const type =
    typeof value === 'boolean'
      ? 'bool'
      : Array.isArray(value)
        ? '[]interface {}'
        : typeof value === 'object' && value !== null
          ? 'map[string]interface {}'
          : '%!s(<nil>)';
  return { error: `Unsupported type: '${type}'` };
}
