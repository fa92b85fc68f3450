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
export interface ResolvedGatewayOptions extends Omit<GatewayOptions, 'upstream' | 'upstreams'> {
  /** Every upstream, checked, in the order given (at least one). */
  upstreams: string[];
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
  upstream: (value) =>
    typeof value === 'string'
      ? undefined
      : Array.isArray(value)
        ? 'must be one URL; give several as "upstreams"'
        : 'must be a string',
  upstreams: (value) =>
    Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')
      ? undefined
      : 'must be a non-empty array of URLs',
  fleet: object,
  redis: () => undefined, // checked below, without echoing a password
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
export function parseUpstream(value: string, where = 'startGateway()', option = 'upstream'): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new InvalidOptionError(
      `${where}: option "${option}" is not a URL: ${JSON.stringify(value)}`,
      option,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError(
      `${where}: option "${option}" must be an http: or https: URL, got ${url.protocol}`,
      option,
    );
  }
  if (url.username || url.password) {
    throw new InvalidOptionError(
      `${where}: option "${option}" carries credentials; pass them in "upstreamHeaders" instead`,
      option,
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** Validates the options eagerly and applies the defaults. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  validateOptions('startGateway()', options, schema);
  if (options.upstream !== undefined && options.upstreams !== undefined) {
    throw new InvalidOptionError(
      'startGateway(): give either option "upstream" or option "upstreams", not both',
      'upstreams',
    );
  }
  const given = options.upstreams ?? (options.upstream === undefined ? [] : [options.upstream]);
  if (given.length === 0) {
    throw new InvalidOptionError(
      'startGateway(): option "upstream" (or "upstreams") is required: the Ollama server URL',
      'upstream',
    );
  }
  const upstreams = given.map((value, index) =>
    options.upstreams === undefined
      ? parseUpstream(value)
      : parseUpstream(value, 'startGateway()', `upstreams[${index}]`),
  );
  const duplicate = upstreams.find((value, index) => upstreams.indexOf(value) !== index);
  if (duplicate !== undefined) {
    throw new InvalidOptionError(`startGateway(): option "upstreams" names ${duplicate} twice`, 'upstreams');
  }
  const keys = secret(
    (value) => Array.isArray(value) && value.every((key) => typeof key === 'string' && key.length > 0),
    'must be an array of non-empty strings',
  )(options.apiKeys ?? []);
  if (keys) throw new InvalidOptionError(`startGateway(): option "apiKeys" ${keys}`, 'apiKeys');
  if (options.redis !== undefined && !/^rediss?:\/\/./.test(String(options.redis))) {
    throw new InvalidOptionError(
      'startGateway(): option "redis" must be a redis:// or rediss:// URL',
      'redis',
    );
  }
  const headers = secret(
    (value) => Object.values(value as object).every((header) => typeof header === 'string'),
    'must map header names to strings',
  )(options.upstreamHeaders ?? {});
  if (headers)
    throw new InvalidOptionError(`startGateway(): option "upstreamHeaders" ${headers}`, 'upstreamHeaders');
  const { upstream: _one, upstreams: _several, ...rest } = options;
  return {
    ...rest,
    upstreams,
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
