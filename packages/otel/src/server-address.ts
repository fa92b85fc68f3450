import { LruMap } from '@bulwark/core/internal';
import type { Attributes } from '@opentelemetry/api';
import { ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from './semconv.js';

/** Where a call goes, for `server.address` and `server.port`: host and port, never a path or credentials. */
export interface ServerAddress {
  readonly address: string;
  readonly port: number | undefined;
  /** `server.address` and `server.port`, or none when the address is empty. */
  readonly attributes: Attributes;
}

const none: ServerAddress = { address: '', port: undefined, attributes: {} };
const cache = new LruMap<string, ServerAddress>(64);
const defaultPorts: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Parses a call's `host` attribute (`http://127.0.0.1:11434`, `localhost:11434`, `[::1]:8080`).
 * Returns an empty address when it cannot be parsed.
 */
export function parseServerAddress(host: unknown): ServerAddress {
  if (typeof host !== 'string' || host === '') return none;
  const cached = cache.get(host);
  if (cached) return cached;
  let parsed = none;
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `http://${host}`);
    const address = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port === '' ? defaultPorts[url.protocol] : Number(url.port);
    if (address !== '') {
      const attributes: Attributes = { [ATTR_SERVER_ADDRESS]: address };
      if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
      parsed = { address, port, attributes };
    }
  } catch {
    parsed = none;
  }
  cache.set(host, parsed);
  return parsed;
}
