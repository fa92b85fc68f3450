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
 * Resolves a host as the official clients do: `host` or `host:port` get `http://` and port 11434;
 * an explicit `http://host` means port 80 and `https://host` 443; trailing slashes are dropped.
 * Returns the origin. Anything else (another scheme, a path, credentials, control characters)
 * fails with an error naming the host, its credentials masked.
 */
export function resolveHost(value: string | undefined): URL {
  const raw = (value ?? process.env.OLLAMA_HOST ?? '').trim();
  if (raw === '') return new URL(DEFAULT_HOST);
  const fail = (why: string): never => {
    throw new InvalidOptionError(`new Ollama(): option "host" ${why}, got ${shown(raw)}`, 'host');
  };
  if ([...raw].some((char) => char.charCodeAt(0) <= 0x20 || char.charCodeAt(0) === 0x7f)) {
    fail('must not contain spaces or control characters');
  }
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw);
  if (!hasScheme && /^[a-z][a-z0-9+.-]*:(?!\d)/i.test(raw)) fail('must be an http: or https: URL');
  let url: URL;
  try {
    url = new URL(hasScheme ? raw : `http://${raw}`);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('must be an http: or https: URL');
  if (url.username || url.password) fail('must not carry credentials (send an Authorization header instead)');
  if (url.pathname.replace(/\/+$/, '') !== '' || url.search || url.hash)
    fail('must be an origin without a path');
  if (url.hostname === '') fail('has no host name');
  if (!hasScheme && url.port === '') url.port = DEFAULT_PORT;
  return new URL(url.origin);
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
