import { InvalidOptionError } from '@bulwark/core';

export const DEFAULT_HOST = 'http://127.0.0.1:11434';
const DEFAULT_PORT = '11434';

/** A host for messages: credentials masked, cut short. */
function shown(value: string): string {
  // Everything before an `@` in the authority may be a user and password, with or without a scheme.
  const masked = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#@]*@/i, '$1***@');
  return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 77)}...` : masked);
}

/**
 * Resolves a host as the official clients do (ollama-python's `_parse_host`): `host` or
 * `host:port` get `http://` and port 11434; `:port` alone means 127.0.0.1; an explicit `http://host`
 * means port 80 and `https://host` 443; a path is kept as a prefix of every route (a server behind a
 * reverse proxy at `http://gateway:8080/ollama`), trailing slashes dropped. With no `host`, reads
 * `OLLAMA_HOST`. Returns the base URL: the origin and the prefix. Anything else (another scheme, a
 * query, credentials, control characters) fails with an error naming the option or the variable
 * the value came from, credentials masked.
 */
export function resolveHost(value: string | undefined): URL {
  const fromEnvironment = value === undefined;
  const raw = (value ?? process.env.OLLAMA_HOST ?? '').trim();
  if (raw === '') return new URL(DEFAULT_HOST);
  const fail = (why: string): never => {
    throw new InvalidOptionError(
      fromEnvironment
        ? `new Ollama(): the environment variable OLLAMA_HOST ${why}, got ${shown(raw)}`
        : `new Ollama(): option "host" ${why}, got ${shown(raw)}`,
      fromEnvironment ? 'OLLAMA_HOST' : 'host',
    );
  };
  if ([...raw].some((char) => char.charCodeAt(0) <= 0x20 || char.charCodeAt(0) === 0x7f)) {
    fail('must not contain spaces or control characters');
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (!hasScheme && /^[a-z][a-z0-9+.-]*:(?!\d)/i.test(raw)) fail('must be an http: or https: URL');
  // `:11434` and `http://:11434` leave the host out: it is 127.0.0.1, as in the Python client.
  const withHost = raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?:(?=\d)/i, '$1127.0.0.1:');
  let url: URL;
  try {
    url = new URL(hasScheme ? withHost : `http://${withHost}`);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('must be an http: or https: URL');
  if (url.username || url.password) fail('must not carry credentials (send an Authorization header instead)');
  if (url.search || url.hash) fail('must not have a query or a fragment');
  if (url.hostname === '') fail('has no host name');
  if (!hasScheme && url.port === '') url.port = DEFAULT_PORT;
  const prefix = url.pathname.replace(/\/+$/, '');
  return new URL(`${url.origin}${prefix}`);
}

/** The path prefix of a base URL from {@link resolveHost}: `''` or `/ollama`, never a trailing slash. */
export function pathPrefix(base: URL): string {
  return base.pathname.replace(/\/+$/, '');
}

/** Checks header names and values; an error names the header, never its value. */
export function checkHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new InvalidOptionError('new Ollama(): option "headers" must be an object of strings', 'headers');
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name)) {
      throw new InvalidOptionError(
        `new Ollama(): header name ${JSON.stringify(name)} is not a valid token`,
        'headers',
      );
    }
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new InvalidOptionError(
        `new Ollama(): the value of header "${name}" must be a string without CR, LF or NUL`,
        'headers',
      );
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}
