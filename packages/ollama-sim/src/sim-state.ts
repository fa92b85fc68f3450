import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CancelSignal } from './cancel-signal.js';
import type { GoDecodeResult, GoType } from './go-decoding/index.js';
import { decodeInto } from './go-decoding/index.js';
import { memo } from './memo.js';
import type { ModelDefaults, SimModel } from './model-catalog.js';
import { isValidModelName, modelKey, parseModelName } from './model-name.js';
import type { ResponseOutput } from './response-output.js';
import type { Scheduler } from './scheduler.js';
import type { SimStats } from './sim-stats.js';
import type { Fault, RequestRecord } from './types.js';

/** Server-wide settings the routes read. */
export interface SimSettings {
  readonly version: string;
  /** What a pulled or created model inherits. */
  readonly modelDefaults: ModelDefaults;
  /** Names a pull finds (a name without a tag matches every tag). */
  readonly pullable: readonly string[];
}

/** What a name as sent resolves to. */
export interface NameLookup {
  /** Whether the name is a valid model name (`Name.IsValid`). */
  readonly valid: boolean;
  /** The served model it refers to, if any. */
  readonly model: SimModel | undefined;
}

const INVALID_NAME: NameLookup = { valid: false, model: undefined };

/** Everything the routes share: models, scheduler, counters, settings. */
export class SimState {
  readonly models = new Map<string, SimModel>();
  /** Names as sent → what they resolve to. Cleared when the models change. */
  private readonly lookups = memo((name): NameLookup => {
    const parsed = parseModelName(name.trim());
    return isValidModelName(parsed)
      ? { valid: true, model: this.models.get(modelKey(parsed)) }
      : INVALID_NAME;
  });

  constructor(
    models: readonly SimModel[],
    readonly scheduler: Scheduler,
    readonly stats: SimStats,
    readonly settings: SimSettings,
  ) {
    for (const model of models) this.models.set(model.key, model);
  }

  /** The model a name refers to (`llama3.2`, `llama3.2:latest`, any case), if served. */
  find(name: string): SimModel | undefined {
    return this.lookup(name).model;
  }

  /** Whether a name (trimmed) is valid, and the served model it refers to; cached per name. */
  lookup(name: string): NameLookup {
    return this.lookups(name);
  }

  /** Whether `/api/pull` finds this name in the registry. */
  isPullable(name: string): boolean {
    const wanted = parseModelName(name.trim());
    return this.settings.pullable.some((entry) => {
      const listed = parseModelName(entry.trim());
      const tagged = entry.lastIndexOf(':') > entry.lastIndexOf('/');
      return (
        listed.host.toLowerCase() === wanted.host.toLowerCase() &&
        listed.namespace.toLowerCase() === wanted.namespace.toLowerCase() &&
        listed.model.toLowerCase() === wanted.model.toLowerCase() &&
        (!tagged || listed.tag.toLowerCase() === wanted.tag.toLowerCase())
      );
    });
  }

  add(model: SimModel): void {
    this.models.set(model.key, model);
    this.lookups.clear();
  }

  remove(model: SimModel): void {
    this.models.delete(model.key);
    this.lookups.clear();
  }
}

/** What a route handler gets. */
export interface RouteContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: RequestRecord;
  readonly output: ResponseOutput;
  /** Aborts when the client leaves or the simulator closes. */
  readonly signal: CancelSignal;
  readonly fault: Fault | undefined;
  /** The body as Go's decoder read it. */
  readonly parsed: GoDecodeResult;
  readonly sim: SimState;
  /** Path parameters (`/v1/models/:model`). */
  readonly params: Readonly<Record<string, string>>;
}

export type RouteHandler = (context: RouteContext) => Promise<void>;

/**
 * Decodes the body into a Go struct as gin's ShouldBindJSON does; on failure answers 400 with
 * `missing request body` or Go's text (through `fail`, so OpenAI routes can wrap it) and returns
 * undefined.
 */
export async function decodeBody(
  context: RouteContext,
  type: GoType & { kind: 'struct' },
  emptyBodyText = 'missing request body',
): Promise<Record<string, unknown> | undefined> {
  const parsed = context.parsed;
  if ('error' in parsed) {
    await context.output.error(400, parsed.eof ? emptyBodyText : parsed.error);
    return undefined;
  }
  const decoded = decodeInto(parsed.value, type);
  if ('error' in decoded) {
    await context.output.error(400, decoded.error);
    return undefined;
  }
  return decoded.value as Record<string, unknown>;
}
