import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  ValueType,
} from '@opentelemetry/api';
import {
  CHUNK_BUCKETS,
  COUNT_BUCKETS,
  DURATION_BUCKETS,
  METRIC_BULWARK_ATTEMPT_DURATION,
  METRIC_BULWARK_BULKHEAD_QUEUE_DURATION,
  METRIC_BULWARK_CALL_ATTEMPTS,
  METRIC_BULWARK_CALL_TIMEOUTS,
  METRIC_BULWARK_CALLS,
  METRIC_BULWARK_EVENTS,
  METRIC_BULWARK_MODEL_LOAD_DURATION,
  METRIC_BULWARK_PIPELINE_DURATION,
  METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION,
  METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_DURATION,
  METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
  TOKEN_BUCKETS,
} from './semconv.js';
import { SCOPE_NAME, SCOPE_VERSION } from './version.js';

interface Definition {
  kind: 'histogram' | 'counter';
  unit: string;
  description: string;
  buckets?: readonly number[];
  integer?: boolean;
}

const seconds = (description: string): Definition => ({
  kind: 'histogram',
  unit: 's',
  description,
  buckets: DURATION_BUCKETS,
});
const perChunk = (description: string): Definition => ({
  kind: 'histogram',
  unit: 's',
  description,
  buckets: CHUNK_BUCKETS,
});
const perCall = (unit: string, description: string): Definition => ({
  kind: 'histogram',
  unit,
  description,
  buckets: COUNT_BUCKETS,
  integer: true,
});
const tokens = (description: string): Definition => ({
  kind: 'histogram',
  unit: '{token}',
  description,
  buckets: TOKEN_BUCKETS,
  integer: true,
});

/** Every synchronous instrument: name, kind, unit and bucket advice. */
export const DEFINITIONS: Readonly<Record<string, Definition>> = {
  [METRIC_GEN_AI_CLIENT_OPERATION_DURATION]: seconds('GenAI operation duration.'),
  [METRIC_GEN_AI_CLIENT_TOKEN_USAGE]: tokens('Number of input and output tokens used.'),
  [METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK]: seconds(
    'Time from the call until its first chunk: for a stream, when it reached the caller.',
  ),
  [METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK]: perChunk(
    'Mean time per output chunk after the first, one point per stream.',
  ),
  [METRIC_GEN_AI_CLIENT_INFERENCE_DURATION]: seconds('GenAI client inference operation duration.'),
  [METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK]: seconds(
    'Time from the call until its first chunk: for a stream, when it reached the caller.',
  ),
  [METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK]: perChunk(
    'Mean time per output chunk after the first, one point per stream.',
  ),
  [METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS]: {
    kind: 'counter',
    unit: '{token}',
    description: 'The number of input (prompt) tokens used, including cached tokens.',
    integer: true,
  },
  [METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS]: {
    kind: 'counter',
    unit: '{token}',
    description: 'The number of output (completion) tokens used.',
    integer: true,
  },
  [METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS]: tokens('Input tokens per inference operation.'),
  [METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS]: tokens('Output tokens per inference operation.'),
  [METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION]: seconds('GenAI client embeddings operation duration.'),
  [METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS]: tokens('Input tokens per embeddings operation.'),
  [METRIC_BULWARK_ATTEMPT_DURATION]: seconds('Duration of one attempt, rejected attempts included.'),
  [METRIC_BULWARK_PIPELINE_DURATION]: seconds('Duration of a call outside the GenAI conventions.'),
  [METRIC_BULWARK_BULKHEAD_QUEUE_DURATION]: seconds('Time a call waited for a bulkhead slot.'),
  [METRIC_BULWARK_CALLS]: {
    kind: 'counter',
    unit: '{call}',
    description: 'Calls by outcome (success, timeout, error, cancelled), error.type and timeout phase.',
    integer: true,
  },
  [METRIC_BULWARK_CALL_ATTEMPTS]: perCall('{attempt}', 'Attempts per call, rejected ones included.'),
  [METRIC_BULWARK_CALL_TIMEOUTS]: perCall('{timeout}', 'Timeouts per call, each timeout counted once.'),
  [METRIC_BULWARK_MODEL_LOAD_DURATION]: seconds(
    "Model load time: one point per load the client owned, else the answer's load_duration.",
  ),
  [METRIC_BULWARK_EVENTS]: {
    kind: 'counter',
    unit: '{event}',
    description:
      'Resilience policy events: retries, give-ups, timeouts, breaker changes, rejections, cancels.',
    integer: true,
  },
};

/** Records one value: a histogram's `record` or a counter's `add`, bound to its instrument. */
type Recorder = (value: number, attributes: Attributes) => void;

/** The instruments of one meter, each created on first use. */
export class Instruments {
  readonly meter: Meter;
  readonly #recorders = new Map<string, Recorder>();

  constructor(meter: Meter) {
    this.meter = meter;
  }

  #create(name: string): Recorder {
    const definition = DEFINITIONS[name];
    if (!definition) throw new Error(`unknown instrument ${name}`);
    const options = {
      description: definition.description,
      unit: definition.unit,
      valueType: definition.integer ? ValueType.INT : ValueType.DOUBLE,
      ...(definition.buckets ? { advice: { explicitBucketBoundaries: [...definition.buckets] } } : {}),
    };
    let recorder: Recorder;
    if (definition.kind === 'histogram') {
      const histogram: Histogram = this.meter.createHistogram(name, options);
      recorder = histogram.record.bind(histogram);
    } else {
      const counter: Counter = this.meter.createCounter(name, options);
      recorder = counter.add.bind(counter);
    }
    this.#recorders.set(name, recorder);
    return recorder;
  }

  /** Records a value on a histogram, or adds it to a counter. */
  record(name: string, value: number, attributes: Attributes): void {
    (this.#recorders.get(name) ?? this.#create(name))(value, attributes);
  }
}

const noopMeter = createNoopMeter();
const onCreate: Array<(instruments: Instruments) => void> = [];
let cachedProvider: MeterProvider | undefined;
let cached: Instruments | undefined;

/**
 * The instruments of the global meter provider, or `undefined` while none is registered. A meter
 * taken before the SDK registers stays a no-op forever, so the provider is looked up on every call
 * and the instruments are made again when it changes.
 */
export function activeInstruments(): Instruments | undefined {
  const provider = metrics.getMeterProvider();
  if (provider !== cachedProvider) {
    cachedProvider = provider;
    const meter = provider.getMeter(SCOPE_NAME, SCOPE_VERSION);
    cached = meter === noopMeter ? undefined : new Instruments(meter);
    if (cached) for (const listener of onCreate) listener(cached);
  }
  return cached;
}

/** Runs `listener` with every new set of instruments (and the current one, if any). */
export function onInstruments(listener: (instruments: Instruments) => void): void {
  onCreate.push(listener);
  if (cached) listener(cached);
}
