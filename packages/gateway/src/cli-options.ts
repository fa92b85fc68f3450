import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from 'bulwark';
import type { GatewayOptions } from './types.js';

export const CLI_HELP = `Usage: bulwark-gateway --upstream <url> [--upstream <url>...] [options]

An Ollama- and OpenAI-compatible server that passes every request to one of its
upstream Ollama servers through Bulwark's pipeline (retry, breaker, bulkhead,
timeouts), routing each to the least loaded host, ejecting failing hosts and failing
over before the first byte. Point any client at it
(OLLAMA_HOST=http://127.0.0.1:11434); the live page is at /_bulwark/.

Options (environment variable in brackets; flags win over the environment, which
wins over the config file):
  -u, --upstream <url>       An Ollama server; repeat it for several
                             [BULWARK_GATEWAY_UPSTREAM, comma-separated]
  -p, --port <n>             Port to listen on; 0 picks a free one (default 11434)
                             [BULWARK_GATEWAY_PORT]
      --host <address>       Interface (default 127.0.0.1) [BULWARK_GATEWAY_HOST]
      --max-body-bytes <n>   Larger request bodies get 413 (default 33554432)
                             [BULWARK_GATEWAY_MAX_BODY_BYTES]
      --max-retries <n>      Retries before the first byte reaches the client (default 2)
                             [BULWARK_GATEWAY_MAX_RETRIES]
      --redis <url>          A Redis shared by several gateways: one set of limits
                             (bulkhead, breaker, retry budget) [BULWARK_GATEWAY_REDIS]
  -c, --config <file>        A JSON file with any startGateway() option, e.g.
                             {"upstreams": ["http://a:11434", "http://b:11434"]}
                             [BULWARK_GATEWAY_CONFIG]
      --simulate             Run an embedded Ollama simulator as the upstream
  -h, --help                 Show this help

API keys: BULWARK_GATEWAY_API_KEYS (comma-separated) or "apiKeys" in the config
file; clients then send "Authorization: Bearer <key>". They are never printed.
Metrics: GET /metrics (Prometheus); OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is set. Health: /healthz, /readyz.
`;

/** What the command line asks for. */
export interface CliRequest {
  help: boolean;
  simulate: boolean;
  /** The gateway's options; `upstreams` is missing only with `simulate`. */
  options: Omit<GatewayOptions, 'upstream'>;
}

function whole(source: string, option: keyof GatewayOptions, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(parsed) || parsed < 0) {
    throw new InvalidOptionError(
      `${source} must be a whole number >= 0, got ${JSON.stringify(value)}`,
      option,
    );
  }
  return parsed;
}

function upstreamList(values: readonly string[]): string[] | undefined {
  const upstreams = values.map((value) => value.trim()).filter((value) => value !== '');
  return upstreams.length === 0 ? undefined : upstreams;
}

/** Reads a JSON config file: an object of `startGateway()` options (`upstream` is read as `upstreams`). */
export function readConfigFile(path: string): CliRequest['options'] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(
      `config file ${JSON.stringify(path)} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      'config',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidOptionError(
      `config file ${JSON.stringify(path)} is not valid JSON: ${(error as Error).message}`,
      'config',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidOptionError(`config file ${JSON.stringify(path)} must hold a JSON object`, 'config');
  }
  const { upstream, ...options } = parsed as Record<string, unknown> & { upstream?: unknown };
  if (upstream !== undefined) {
    if (options.upstreams !== undefined) {
      throw new InvalidOptionError(
        `config file ${JSON.stringify(path)}: give "upstream" or "upstreams", not both`,
        'upstreams',
      );
    }
    options.upstreams = typeof upstream === 'string' ? [upstream] : upstream;
  }
  if (
    options.upstreams !== undefined &&
    (!Array.isArray(options.upstreams) || !options.upstreams.every((item) => typeof item === 'string'))
  ) {
    throw new InvalidOptionError(
      `config file ${JSON.stringify(path)}: "upstreams" must be an array of URLs`,
      'upstreams',
    );
  }
  return options as CliRequest['options'];
}

/**
 * Turns flags, environment variables and the config file into gateway options. Flags win over
 * the environment, which wins over the file.
 */
export function parseCliArgs(
  args: readonly string[],
  env: Record<string, string | undefined> = process.env,
): CliRequest {
  let values: ReturnType<typeof parse>['values'];
  const parse = (input: readonly string[]) =>
    parseArgs({
      args: [...input],
      strict: true,
      allowPositionals: false,
      options: {
        upstream: { type: 'string', short: 'u', multiple: true },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-retries': { type: 'string' },
        redis: { type: 'string' },
        config: { type: 'string', short: 'c' },
        simulate: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  try {
    values = parse(args).values;
  } catch (error) {
    throw new InvalidOptionError(`bulwark-gateway: ${(error as Error).message}`, 'arguments');
  }
  const configPath = values.config ?? env.BULWARK_GATEWAY_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  const flagUpstreams = upstreamList(values.upstream ?? []);
  const envUpstreams = upstreamList((env.BULWARK_GATEWAY_UPSTREAM ?? '').split(','));
  const keys = (env.BULWARK_GATEWAY_API_KEYS ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  const options: CliRequest['options'] = { ...file };
  const set = <K extends keyof CliRequest['options']>(
    key: K,
    value: CliRequest['options'][K] | undefined,
  ) => {
    if (value !== undefined) options[key] = value;
  };
  set('upstreams', flagUpstreams ?? envUpstreams ?? file.upstreams);
  set(
    'port',
    whole('--port', 'port', values.port) ?? whole('BULWARK_GATEWAY_PORT', 'port', env.BULWARK_GATEWAY_PORT),
  );
  set('host', values.host ?? (env.BULWARK_GATEWAY_HOST || undefined));
  set(
    'maxBodyBytes',
    whole('--max-body-bytes', 'maxBodyBytes', values['max-body-bytes']) ??
      whole('BULWARK_GATEWAY_MAX_BODY_BYTES', 'maxBodyBytes', env.BULWARK_GATEWAY_MAX_BODY_BYTES),
  );
  set(
    'maxRetries',
    whole('--max-retries', 'maxRetries', values['max-retries']) ??
      whole('BULWARK_GATEWAY_MAX_RETRIES', 'maxRetries', env.BULWARK_GATEWAY_MAX_RETRIES),
  );
  set('redis', values.redis ?? (env.BULWARK_GATEWAY_REDIS || undefined));
  if (keys.length > 0) options.apiKeys = keys;
  const simulate = values.simulate ?? false;
  if (simulate && options.upstreams !== undefined) {
    throw new InvalidOptionError(
      'bulwark-gateway: --simulate runs its own upstream; drop --upstream',
      'upstream',
    );
  }
  if (!simulate && !values.help && options.upstreams === undefined) {
    throw new InvalidOptionError(
      'bulwark-gateway: no upstream; give --upstream http://HOST:11434 (or BULWARK_GATEWAY_UPSTREAM, or --simulate)',
      'upstream',
    );
  }
  return { help: values.help ?? false, simulate, options };
}
