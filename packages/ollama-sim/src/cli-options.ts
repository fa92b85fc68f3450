import { parseArgs } from 'node:util';
import { faultKind, parseFaultSpec } from './faults.js';
import type { Fault, ModelSpec, OllamaSimOptions, RequestRecord } from './types.js';
import { SimOptionError } from './validate-options.js';

export const CLI_HELP = `Usage: bulwark-ollama-sim [options]

An Ollama-compatible server with scripted latency and faults. Point any Ollama
client at the URL it prints (OLLAMA_HOST=http://127.0.0.1:11434).

Options:
  -p, --port <n>               Port to listen on; 0 picks a free one (default 11434)
      --host <address>         Interface: 127.0.0.1, ::1, 0.0.0.0... (default 127.0.0.1)
  -m, --model <name|json>      A model to serve, repeatable: "llama3.2", "qwen3:8b", or JSON
                               like '{"name":"slow","loadMs":2000,"numParallel":2}'.
                               (default llama3.2, qwen3, gemma3, nomic-embed-text)
  -f, --fault <spec>           A fault, repeatable: key=value pairs
                               'route=/api/chat,nth=2,status=503,retryAfter=1'
                               'route=/api/chat,kind=reset,afterChunks=5'
                               'model=re:^llama,kind=stall,afterChunks=3,stallMs=2000'
                               or JSON (an object or an array of them).
      --num-parallel <n>       Parallel requests per model, like OLLAMA_NUM_PARALLEL (default 1)
      --max-queue <n>          Requests that may wait for a load, like OLLAMA_MAX_QUEUE (default 512)
      --bound-slot-wait        Count requests waiting for a slot against --max-queue too
      --max-loaded-models <n>  Resident models, like OLLAMA_MAX_LOADED_MODELS (default 3)
      --keep-alive-ms <ms>     Idle time before a model unloads; negative = never, written
                               --keep-alive-ms=-1 (default 300000)
      --load-ms <ms>           Time to load a model (default 0)
      --prompt-eval-ms <ms>    Silent time before the first token (default 0)
      --token-delay-ms <ms>    Time between tokens (default 0)
      --reply-tokens <n|a-b>   Natural answer length in tokens (default 20-40)
      --ollama-version <v>     What /api/version answers (default 0.33.0)
      --log                    Print one line per finished request to stderr
  -h, --help                   Show this help

Fault kinds: status, hang, reset, stall, close-mid-line, malformed-line, error-line,
error-event, oversized-line, endless-line, html, empty, truncate, no-done. Latency fields
(delayMs, tokenDelayMs, dripBytes, dripIntervalMs, gzip) combine with any kind.
`;

/** What the command line asks for. */
export interface CliRequest {
  help: boolean;
  log: boolean;
  options: OllamaSimOptions;
}

function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || Number.isNaN(parsed)) {
    throw new SimOptionError(`--${flag} must be a number, got ${JSON.stringify(value)}`, flag, value);
  }
  return parsed;
}

function modelSpec(value: string): string | ModelSpec {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{')) return trimmed;
  try {
    return JSON.parse(trimmed) as ModelSpec;
  } catch (error) {
    throw new SimOptionError(`--model: invalid JSON: ${(error as Error).message}`, 'model', value);
  }
}

/** Parses `bulwark-ollama-sim` arguments into simulator options. Throws on anything unknown. */
export function parseCliArgs(argv: readonly string[]): CliRequest {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        model: { type: 'string', short: 'm', multiple: true },
        fault: { type: 'string', short: 'f', multiple: true },
        'num-parallel': { type: 'string' },
        'max-queue': { type: 'string' },
        'bound-slot-wait': { type: 'boolean' },
        'max-loaded-models': { type: 'string' },
        'keep-alive-ms': { type: 'string' },
        'load-ms': { type: 'string' },
        'prompt-eval-ms': { type: 'string' },
        'token-delay-ms': { type: 'string' },
        'reply-tokens': { type: 'string' },
        'ollama-version': { type: 'string' },
        log: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new SimOptionError((error as Error).message, 'argv', argv);
  }
  const text = (name: string) => values[name] as string | undefined;
  const options: OllamaSimOptions = { port: number('port', text('port')) ?? 11_434 };
  if (text('host') !== undefined) options.host = text('host') as string;
  const models = values.model as string[] | undefined;
  if (models) options.models = models.map(modelSpec);
  const faults = values.fault as string[] | undefined;
  if (faults) options.faults = faults.flatMap((spec): Fault[] => parseFaultSpec(spec));
  const numeric: [string, keyof OllamaSimOptions][] = [
    ['num-parallel', 'numParallel'],
    ['max-queue', 'maxQueue'],
    ['max-loaded-models', 'maxLoadedModels'],
    ['keep-alive-ms', 'keepAliveMs'],
    ['load-ms', 'loadMs'],
    ['prompt-eval-ms', 'promptEvalMs'],
    ['token-delay-ms', 'tokenDelayMs'],
  ];
  for (const [flag, key] of numeric) {
    const value = number(flag, text(flag));
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  }
  if (values['bound-slot-wait']) options.boundSlotWait = true;
  const replyTokens = text('reply-tokens');
  if (replyTokens !== undefined) {
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(replyTokens);
    options.replyTokens = range
      ? [Number(range[1]), Number(range[2])]
      : (number('reply-tokens', replyTokens) as number);
  }
  if (text('ollama-version') !== undefined) options.version = text('ollama-version') as string;
  return { help: values.help === true, log: values.log === true, options };
}

/**
 * The `--log` line of a finished request: method, route, model, status, outcome, chunks, time and
 * the fault applied (its `name`, else its kind; `latency` for a fault with latency fields only).
 */
export function logLine(record: RequestRecord): string {
  const took = record.endedAt === undefined ? 0 : Math.round(record.endedAt - record.startedAt);
  const fault = record.fault ? ` fault=${record.fault.name ?? faultKind(record.fault) ?? 'latency'}` : '';
  return `${record.method} ${record.route} ${record.model ?? '-'} ${record.status ?? '-'} ${record.outcome} ${record.chunks} chunks ${took} ms${fault}`;
}
