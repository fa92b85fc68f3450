import {
  anyOf,
  duration,
  integer,
  type OptionCheck,
  type OptionSchema,
  object,
  oneOf,
  string,
  validateOptions,
} from '@bulwark/core/internal';
import { InvalidOptionError } from 'bulwark';
import { GATEWAY_DEFAULTS } from './defaults.js';
import type { GatewayOptions } from './types.js';

/** Options with their defaults applied. */
export interface ResolvedGatewayOptions extends GatewayOptions {
  upstream: string;
  host: string;
  port: number;
  apiKeys: readonly string[];
  upstreamHeaders: Record<string, string>;
  maxBodyBytes: number;
  refreshMs: number;
  pageIntervalMs: number;
  env: Record<string, string | undefined>;
}

/** Checks without echoing the value: these may hold secrets. */
const secret =
  (check: (value: unknown) => boolean, message: string): OptionCheck =>
  (value) =>
    check(value) ? undefined : message;

const schema = {
  upstream: anyOf(string, (value) =>
    Array.isArray(value) ? 'a single URL (several upstreams need the fleet support)' : 'must be a string',
  ),
  host: string,
  port: integer(0),
  apiKeys: () => undefined, // checked below, without echoing a key
  upstreamHeaders: object,
  maxBodyBytes: integer(1),
  timeout: anyOf(duration(1), object),
  maxRetries: integer(0),
  retry: object,
  breaker: anyOf(oneOf(false), object),
  bulkhead: anyOf(oneOf(false), object),
  refreshMs: duration(100),
  pageIntervalMs: duration(50),
  env: object,
} satisfies OptionSchema<GatewayOptions>;

/** The upstream URL, checked: http(s), no credentials, no path beyond `/`. */
export function parseUpstream(value: string, where = 'startGateway()'): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new InvalidOptionError(
      `${where}: option "upstream" is not a URL: ${JSON.stringify(value)}`,
      'upstream',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError(
      `${where}: option "upstream" must be an http: or https: URL, got ${url.protocol}`,
      'upstream',
    );
  }
  if (url.username || url.password) {
    throw new InvalidOptionError(
      `${where}: option "upstream" carries credentials; pass them in "upstreamHeaders" instead`,
      'upstream',
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Validates the options eagerly and applies the defaults. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  if (Array.isArray((options as { upstream?: unknown } | undefined)?.upstream)) {
    throw new InvalidOptionError(
      'startGateway(): option "upstream" must be one URL; several upstreams need the fleet support, which the gateway does not have yet',
      'upstream',
    );
  }
  validateOptions('startGateway()', options, schema);
  if (options.upstream === undefined) {
    throw new InvalidOptionError(
      'startGateway(): option "upstream" is required (the Ollama server URL)',
      'upstream',
    );
  }
  const keys = secret(
    (value) => Array.isArray(value) && value.every((key) => typeof key === 'string' && key.length > 0),
    'must be an array of non-empty strings',
  )(options.apiKeys ?? []);
  if (keys) throw new InvalidOptionError(`startGateway(): option "apiKeys" ${keys}`, 'apiKeys');
  const headers = secret(
    (value) => Object.values(value as object).every((header) => typeof header === 'string'),
    'must map header names to strings',
  )(options.upstreamHeaders ?? {});
  if (headers)
    throw new InvalidOptionError(`startGateway(): option "upstreamHeaders" ${headers}`, 'upstreamHeaders');
  return {
    ...options,
    upstream: parseUpstream(options.upstream),
    host: options.host ?? GATEWAY_DEFAULTS.host,
    port: options.port ?? GATEWAY_DEFAULTS.port,
    apiKeys: [...(options.apiKeys ?? [])],
    upstreamHeaders: { ...options.upstreamHeaders },
    maxBodyBytes: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
    refreshMs: options.refreshMs ?? GATEWAY_DEFAULTS.refreshMs,
    pageIntervalMs: options.pageIntervalMs ?? GATEWAY_DEFAULTS.pageIntervalMs,
    env: options.env ?? process.env,
  };
}
