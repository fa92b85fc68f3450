// The two middlewares every Ollama route runs first (server/routes.go GenerateRoutes): gin-contrib's
// CORS with the default allowed origins (envconfig.AllowedOrigins), then allowedHostsMiddleware,
// which refuses a non-local Host header when the server listens on a loopback address.
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';

/** What the middlewares decide: refuse (403), answer a preflight (204), or go on, with headers to add. */
export type AccessDecision =
  | { readonly kind: 'refuse' }
  | { readonly kind: 'preflight'; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'continue'; readonly headers: Readonly<Record<string, string>> | undefined };

const LOCAL_ORIGIN_HOSTS = ['localhost', '127.0.0.1', '0.0.0.0'];
/** `AllowedOrigins()` without `OLLAMA_ORIGINS`: exact origins, and prefixes of the `*` patterns. */
const EXACT_ORIGINS = new Set(LOCAL_ORIGIN_HOSTS.flatMap((host) => [`http://${host}`, `https://${host}`]));
const ORIGIN_PREFIXES = [
  ...LOCAL_ORIGIN_HOSTS.flatMap((host) => [`http://${host}:`, `https://${host}:`]),
  'app://',
  'file://',
  'tauri://',
  'vscode-webview://',
  'vscode-file://',
  // AllowBrowserExtensions
  'chrome-extension://',
  'safari-extension://',
  'moz-extension://',
  'ms-browser-extension://',
];

const ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'User-Agent',
  'Accept',
  'X-Requested-With',
  'Openai-Beta',
  'X-Stainless-Arch',
  'X-Stainless-Async',
  'X-Stainless-Custom-Poll-Interval',
  'X-Stainless-Helper-Method',
  'X-Stainless-Lang',
  'X-Stainless-Os',
  'X-Stainless-Package-Version',
  'X-Stainless-Poll-Helper',
  'X-Stainless-Retry-Count',
  'X-Stainless-Runtime',
  'X-Stainless-Runtime-Version',
  'X-Stainless-Timeout',
].join(',');

function originAllowed(origin: string): boolean {
  return EXACT_ORIGINS.has(origin) || ORIGIN_PREFIXES.some((prefix) => origin.startsWith(prefix));
}

function isPrivateOrLocalIp(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a = 0, b = 0] = v4.split('.').map(Number);
    return (
      a === 127 ||
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      v4 === '0.0.0.0'
    );
  }
  const lower = address.toLowerCase();
  // Loopback, unspecified, unique local (fc00::/7).
  return lower === '::1' || lower === '::' || /^f[cd][0-9a-f]{2}:/.test(lower);
}

let cachedMachineName: string | undefined;
/** This machine's name, lower-cased (`os.Hostname`), read once. */
function machineName(): string {
  cachedMachineName ??= hostname().toLowerCase();
  return cachedMachineName;
}

/** `allowedHost`: localhost, this machine's name, or a `.localhost`, `.local`, `.internal` name. */
function hostAllowed(host: string): boolean {
  const lower = host.toLowerCase();
  if (lower === '' || lower === 'localhost' || lower === machineName()) return true;
  return ['.localhost', '.local', '.internal'].some((suffix) => lower.endsWith(suffix));
}

/** The Host header's host part (`net.SplitHostPort`, else the whole value). */
function hostPart(header: string): string {
  if (header.startsWith('[')) {
    const end = header.indexOf(']');
    return end > 0 ? header.slice(1, end) : header;
  }
  const colon = header.lastIndexOf(':');
  return colon >= 0 && header.indexOf(':') === colon ? header.slice(0, colon) : header;
}

/**
 * Applies Ollama's CORS and Host checks to a request. `loopbackBind` says whether the server
 * listens on a loopback address (only then is the Host header checked).
 */
export function checkAccess(
  method: string,
  headers: IncomingHttpHeaders,
  loopbackBind: boolean,
): AccessDecision {
  const host = headers.host ?? '';
  const origin = headers.origin;
  let corsHeaders: Record<string, string> | undefined;
  if (origin && origin !== `http://${host}` && origin !== `https://${host}`) {
    if (!originAllowed(origin)) return { kind: 'refuse' };
    if (method === 'OPTIONS') {
      return {
        kind: 'preflight',
        headers: {
          'Access-Control-Allow-Headers': ALLOW_HEADERS,
          'Access-Control-Allow-Methods': 'GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS',
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Max-Age': '43200',
          Vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
        },
      };
    }
    corsHeaders = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  }
  if (loopbackBind) {
    const name = hostPart(host);
    if (isIP(name) !== 0) {
      if (!isPrivateOrLocalIp(name)) return { kind: 'refuse' };
    } else if (!hostAllowed(name)) {
      return { kind: 'refuse' };
    } else if (method === 'OPTIONS') {
      return { kind: 'preflight', headers: corsHeaders ?? {} };
    }
  }
  return { kind: 'continue', headers: corsHeaders };
}
