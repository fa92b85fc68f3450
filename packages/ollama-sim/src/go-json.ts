// Go's encoding/json output and time format, byte for byte where clients could notice.

const htmlUnsafeAll = /[<>&\u2028\u2029]/g;
const goEscapes: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** Escapes `<`, `>`, `&`, U+2028 and U+2029 in JSON text the way Go's `json.Marshal` does. */
export function goEscape(json: string): string {
  if (
    json.indexOf('<') < 0 &&
    json.indexOf('>') < 0 &&
    json.indexOf('&') < 0 &&
    json.indexOf('\u2028') < 0 &&
    json.indexOf('\u2029') < 0
  ) {
    return json;
  }
  return json.replace(htmlUnsafeAll, (c) => goEscapes[c] as string);
}

/** `json.Marshal(value)`: compact JSON with Go's HTML escaping. */
export function goJson(value: unknown): string {
  return goEscape(JSON.stringify(value));
}

/** A JSON string literal with Go's escaping. */
export function goString(text: string): string {
  return goEscape(JSON.stringify(text));
}

/** Fixed for the life of the process; read once (the getter costs on every request). */
const TIME_ORIGIN = performance.timeOrigin;

/** Epoch milliseconds with sub-millisecond precision. */
export function nowMs(): number {
  return TIME_ORIGIN + performance.now();
}

let cachedSecond = -1;
let cachedPrefix = '';

/** RFC 3339 in UTC with up to nine fractional digits, trailing zeros dropped: Go's `time.RFC3339Nano`. */
export function rfc3339Nano(epochMs: number = nowMs()): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  let nanos = Math.floor((epochMs - second * 1000) * 1e6);
  if (nanos <= 0) return `${cachedPrefix}Z`;
  let digits = 9;
  while (nanos % 10 === 0) {
    nanos /= 10;
    digits--;
  }
  const fraction = String(nanos);
  const zeros = digits - fraction.length;
  return zeros > 0 ? `${cachedPrefix}.${'0'.repeat(zeros)}${fraction}Z` : `${cachedPrefix}.${fraction}Z`;
}

/** Nanoseconds between two {@link nowMs} readings, at least 1 (Go omits a zero duration). */
export function elapsedNs(fromMs: number, toMs: number): number {
  return Math.max(1, Math.round((toMs - fromMs) * 1e6));
}

/**
 * Shortest decimal that reads back as the same float32: what Go prints for a `float32`.
 * JSON.stringify of the returned number gives Go's text.
 */
export function float32Shortest(value: number): number {
  const single = Math.fround(value);
  for (let precision = 1; precision < 10; precision++) {
    const candidate = Number(single.toPrecision(precision));
    if (Math.fround(candidate) === single) return candidate;
  }
  return single;
}
