import { modelKey, parseModelName } from './model-name.js';
import type { Fault, FaultKind, FaultRequest } from './types.js';
import {
  anyOf,
  boolean,
  type Check,
  count,
  duration,
  func,
  headerRecord,
  integer,
  nonEmptyString,
  oneOf,
  plainObject,
  regExp,
  SimOptionError,
  string,
  validateOptions,
} from './validate-options.js';

/** Every fault kind. */
export const FAULT_KINDS: readonly FaultKind[] = [
  'status',
  'hang',
  'reset',
  'stall',
  'close-mid-line',
  'malformed-line',
  'error-line',
  'error-event',
  'oversized-line',
  'endless-line',
  'html',
  'empty',
  'truncate',
  'no-done',
];

const FAULT_SCHEMA: { readonly [K in keyof Fault]-?: Check } = {
  name: string,
  route: anyOf(nonEmptyString, regExp),
  method: nonEmptyString,
  model: anyOf(nonEmptyString, regExp),
  nth: integer(1),
  times: count(1),
  when: func,
  kind: oneOf(...FAULT_KINDS),
  delayMs: duration,
  tokenDelayMs: duration,
  dripBytes: integer(1),
  dripIntervalMs: duration,
  gzip: boolean,
  afterChunks: integer(0),
  stallMs: duration,
  status: integer(100, 599),
  message: string,
  body: anyOf(string, plainObject),
  headers: headerRecord,
  retryAfter: anyOf(integer(0), nonEmptyString),
  lineBytes: integer(1),
};

/** The kind a fault resolves to: `kind`, or `'status'` when only `status` is set. */
export function faultKind(fault: Fault): FaultKind | undefined {
  return fault.kind ?? (fault.status !== undefined ? 'status' : undefined);
}

/** Checks faults eagerly; throws a SimOptionError naming `faults[i].option`. */
export function validateFaults(where: string, faults: unknown, option = 'faults'): void {
  if (!Array.isArray(faults)) {
    throw new SimOptionError(`${where}: option "${option}" must be an array of faults`, option, faults);
  }
  for (const [index, fault] of faults.entries()) validateFault(where, fault, `${option}[${index}]`);
}

export function validateFault(where: string, fault: unknown, option: string): void {
  validateOptions(where, fault, FAULT_SCHEMA, `${option}.`);
  const value = fault as Fault;
  if (value.kind === 'status' && value.status === undefined) {
    throw new SimOptionError(
      `${where}: option "${option}.status" is required for kind "status"`,
      `${option}.status`,
      undefined,
    );
  }
}

interface Entry {
  readonly fault: Fault;
  seen: number;
}

/** The faults in force and how many requests each has matched. */
export class FaultTable {
  private entries: Entry[] = [];

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  get faults(): Fault[] {
    return this.entries.map((entry) => entry.fault);
  }

  set(faults: readonly Fault[]): void {
    this.entries = faults.map((fault) => ({ fault, seen: 0 }));
  }

  add(fault: Fault): void {
    this.entries.push({ fault, seen: 0 });
  }

  clear(): void {
    this.entries = [];
  }

  /** Counts the request against every fault it matches; returns the first that applies. */
  select(request: FaultRequest): Fault | undefined {
    let chosen: Fault | undefined;
    for (const entry of this.entries) {
      if (!matches(entry.fault, request)) continue;
      entry.seen++;
      const nth = entry.fault.nth ?? 1;
      const times = entry.fault.times ?? (entry.fault.nth !== undefined ? 1 : Number.POSITIVE_INFINITY);
      if (!chosen && entry.seen >= nth && entry.seen < nth + times) chosen = entry.fault;
    }
    return chosen;
  }
}

function sameModel(pattern: string, model: string): boolean {
  return pattern === model || modelKey(parseModelName(pattern)) === modelKey(parseModelName(model));
}

function matches(fault: Fault, request: FaultRequest): boolean {
  if (fault.route !== undefined) {
    if (typeof fault.route === 'string' ? fault.route !== request.route : !fault.route.test(request.route))
      return false;
  }
  if (fault.method !== undefined && fault.method.toUpperCase() !== request.method) return false;
  if (fault.model !== undefined) {
    if (request.model === undefined) return false;
    if (
      typeof fault.model === 'string'
        ? !sameModel(fault.model, request.model)
        : !fault.model.test(request.model)
    ) {
      return false;
    }
  }
  if (fault.when) {
    try {
      if (!fault.when(request)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

const NUMBER_FIELDS = new Set([
  'nth',
  'times',
  'delayMs',
  'tokenDelayMs',
  'dripBytes',
  'dripIntervalMs',
  'afterChunks',
  'stallMs',
  'status',
  'lineBytes',
]);

/**
 * Parses a fault from the command line: JSON (an object or an array of them), or
 * `key=value,key=value` (`route=/api/chat,nth=2,status=503`). In the short form `route` and `model`
 * starting with `re:` are regular expressions, `headers.NAME=value` sets a header, and values
 * cannot contain commas (use JSON for those).
 */
export function parseFaultSpec(text: string): Fault[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new SimOptionError(`--fault: invalid JSON: ${(error as Error).message}`, 'fault', text);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    validateFaults('--fault', list, 'fault');
    return list as Fault[];
  }
  const fault: Record<string, unknown> = {};
  for (const pair of trimmed.split(',')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    if (equals < 1)
      throw new SimOptionError(`--fault: expected key=value, got ${JSON.stringify(pair)}`, 'fault', text);
    const key = pair.slice(0, equals).trim();
    const raw = pair.slice(equals + 1).trim();
    if (key.startsWith('headers.')) {
      const headers = (fault.headers ?? {}) as Record<string, string>;
      headers[key.slice('headers.'.length)] = raw;
      fault.headers = headers;
    } else if (NUMBER_FIELDS.has(key)) {
      const value = raw === 'Infinity' ? Number.POSITIVE_INFINITY : Number(raw);
      if (raw === '' || Number.isNaN(value)) {
        throw new SimOptionError(
          `--fault: option "${key}" must be a number, got ${JSON.stringify(raw)}`,
          key,
          raw,
        );
      }
      fault[key] = value;
    } else if (key === 'gzip') {
      if (raw !== 'true' && raw !== 'false') {
        throw new SimOptionError(
          `--fault: option "gzip" must be true or false, got ${JSON.stringify(raw)}`,
          key,
          raw,
        );
      }
      fault.gzip = raw === 'true';
    } else if (key === 'retryAfter') {
      fault.retryAfter = /^\d+$/.test(raw) ? Number(raw) : raw;
    } else if ((key === 'route' || key === 'model') && raw.startsWith('re:')) {
      fault[key] = new RegExp(raw.slice(3));
    } else {
      fault[key] = raw;
    }
  }
  if (Object.hasOwn(fault, 'when'))
    throw new SimOptionError('--fault: "when" is in-process only', 'when', fault.when);
  validateFault('--fault', fault, 'fault');
  return [fault as Fault];
}
