import { InvalidOptionError } from '@bulwark/core';
import { resolveHost } from '../host.js';
import type { FleetHostOptions } from '../types.js';

/** One host of a fleet, resolved. */
export interface HostSpec {
  readonly origin: URL;
  readonly weight: number;
  readonly capacity: number;
}

function positive(value: unknown, name: string, index: number, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new InvalidOptionError(
      `new Ollama(): option "hosts[${index}].${name}" must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`,
      `hosts[${index}].${name}`,
    );
  }
  return value;
}

/**
 * The hosts of a client: `hosts` when given, else `OLLAMA_HOSTS` (comma-separated), else the one
 * `host` (or `OLLAMA_HOST`). Each is resolved as `host` is; duplicates are an error.
 */
export function resolveHosts(
  host: string | undefined,
  hosts: readonly (string | FleetHostOptions)[] | undefined,
): HostSpec[] {
  if (host !== undefined && hosts !== undefined) {
    throw new InvalidOptionError(
      'new Ollama(): give either option "host" or option "hosts", not both',
      'hosts',
    );
  }
  let list: readonly (string | FleetHostOptions)[];
  if (hosts !== undefined) {
    if (!Array.isArray(hosts) || hosts.length === 0)
      throw new InvalidOptionError('new Ollama(): option "hosts" must be a non-empty array', 'hosts');
    list = hosts;
  } else if (host === undefined && (process.env.OLLAMA_HOSTS ?? '').trim() !== '') {
    list = (process.env.OLLAMA_HOSTS as string)
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
  } else {
    return [{ origin: resolveHost(host), weight: 1, capacity: 1 }];
  }
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const options: FleetHostOptions = typeof entry === 'string' ? { host: entry } : entry;
    if (typeof options !== 'object' || options === null || typeof options.host !== 'string') {
      throw new InvalidOptionError(
        `new Ollama(): option "hosts[${index}]" must be a host string or { host, weight?, capacity? }`,
        `hosts[${index}]`,
      );
    }
    for (const key of Object.keys(options)) {
      if (key !== 'host' && key !== 'weight' && key !== 'capacity')
        throw new InvalidOptionError(
          `new Ollama(): unknown option "hosts[${index}].${key}"`,
          `hosts[${index}].${key}`,
        );
    }
    const origin = resolveHost(options.host);
    if (seen.has(origin.origin)) {
      throw new InvalidOptionError(`new Ollama(): host ${origin.origin} is listed twice in "hosts"`, 'hosts');
    }
    seen.add(origin.origin);
    return {
      origin,
      weight: positive(options.weight, 'weight', index, false) ?? 1,
      capacity: positive(options.capacity, 'capacity', index, true) ?? 1,
    };
  });
}
