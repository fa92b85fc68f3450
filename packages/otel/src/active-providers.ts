import {
  type Attributes,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  type Tracer,
  type TracerProvider,
  trace,
  ValueType,
} from '@opentelemetry/api';
import { registerGauges } from './policy-gauges.js';
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

/** The instrumentation scope of every tracer and meter this package obtains. */
const SCOPE_NAME = '@bulwark/otel';
const SCOPE_VERSION = '0.1.0';

/** An instrument's unit, description and, for a histogram, bucket advice (a counter has none). */
type Definition = readonly [unit: string, description: string, buckets?: readonly number[]];

const seconds = (description: string): Definition => ['s', description, DURATION_BUCKETS];
const perChunk = (description: string): Definition => ['s', description, CHUNK_BUCKETS];
const tokens = (description: string): Definition => ['{token}', description, TOKEN_BUCKETS];
const TIME_TO_FIRST_CHUNK = seconds(
  'Time from the call until its first chunk: for a stream, when it reached the caller.',
);
const TIME_PER_OUTPUT_CHUNK = perChunk('Mean time per output chunk after the first, one point per stream.');

/** Every synchronous instrument; values are integers unless counted in seconds. */
const DEFINITIONS: Readonly<Record<string, Definition>> = {
  [METRIC_GEN_AI_CLIENT_OPERATION_DURATION]: seconds('GenAI operation duration.'),
  [METRIC_GEN_AI_CLIENT_TOKEN_USAGE]: tokens('Number of input and output tokens used.'),
  [METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK]: TIME_TO_FIRST_CHUNK,
  [METRIC_GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK]: TIME_PER_OUTPUT_CHUNK,
  [METRIC_GEN_AI_CLIENT_INFERENCE_DURATION]: seconds('GenAI client inference operation duration.'),
  [METRIC_GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK]: TIME_TO_FIRST_CHUNK,
  [METRIC_GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK]: TIME_PER_OUTPUT_CHUNK,
  [METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS]: [
    '{token}',
    'The number of input (prompt) tokens used, including cached tokens.',
  ],
  [METRIC_GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS]: [
    '{token}',
    'The number of output (completion) tokens used.',
  ],
  [METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS]: tokens('Input tokens per inference operation.'),
  [METRIC_GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS]: tokens('Output tokens per inference operation.'),
  [METRIC_GEN_AI_CLIENT_EMBEDDINGS_DURATION]: seconds('GenAI client embeddings operation duration.'),
  [METRIC_GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS]: tokens('Input tokens per embeddings operation.'),
  [METRIC_BULWARK_ATTEMPT_DURATION]: seconds('Duration of one attempt, rejected attempts included.'),
  [METRIC_BULWARK_PIPELINE_DURATION]: seconds('Duration of a call outside the GenAI conventions.'),
  [METRIC_BULWARK_BULKHEAD_QUEUE_DURATION]: seconds('Time a call waited for a bulkhead slot.'),
  [METRIC_BULWARK_CALLS]: [
    '{call}',
    'Calls by outcome (success, timeout, error, cancelled), error.type and timeout phase.',
  ],
  [METRIC_BULWARK_CALL_ATTEMPTS]: ['{attempt}', 'Attempts per call, rejected ones included.', COUNT_BUCKETS],
  [METRIC_BULWARK_CALL_TIMEOUTS]: [
    '{timeout}',
    'Timeouts per call, each timeout counted once.',
    COUNT_BUCKETS,
  ],
  [METRIC_BULWARK_MODEL_LOAD_DURATION]: seconds(
    "Model load time: one point per load the client owned, else the answer's load_duration.",
  ),
  [METRIC_BULWARK_EVENTS]: [
    '{event}',
    'Resilience policy events: retries, give-ups, timeouts, breaker changes, rejections, cancels.',
  ],
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
    const [unit, description, buckets] = definition;
    const options = {
      description,
      unit,
      valueType: unit === 's' ? ValueType.DOUBLE : ValueType.INT,
      ...(buckets ? { advice: { explicitBucketBoundaries: [...buckets] } } : {}),
    };
    let recorder: Recorder;
    if (buckets) {
      const histogram = this.meter.createHistogram(name, options);
      recorder = histogram.record.bind(histogram);
    } else {
      const counter = this.meter.createCounter(name, options);
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
let cachedMeterProvider: MeterProvider | undefined;
let cachedInstruments: Instruments | undefined;

/**
 * The instruments of the global meter provider, or `undefined` while none is registered. A meter
 * taken before the SDK registers stays a no-op forever, so the provider is looked up on every call
 * and the instruments are made again (with the policy gauges) when it changes.
 */
export function activeInstruments(): Instruments | undefined {
  const provider = metrics.getMeterProvider();
  if (provider !== cachedMeterProvider) {
    cachedMeterProvider = provider;
    const meter = provider.getMeter(SCOPE_NAME, SCOPE_VERSION);
    cachedInstruments = meter === noopMeter ? undefined : new Instruments(meter);
    if (cachedInstruments) registerGauges(cachedInstruments);
  }
  return cachedInstruments;
}

// The API's no-op provider is not exported; an unregistered proxy hands it out.
const noopTracerProvider = new ProxyTracerProvider().getDelegate();
let cachedTracerProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The tracer of the global provider, or `undefined` while no SDK is registered (the no-op case, so a
 * call costs nothing). Resolved on each call, cached by provider identity: a provider registered
 * after `instrument()` is picked up, and so is one registered again after `trace.disable()`.
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && provider.getDelegate() === noopTracerProvider)
    return undefined;
  if (provider !== cachedTracerProvider || !cachedTracer) {
    cachedTracerProvider = provider;
    cachedTracer = provider.getTracer(SCOPE_NAME, SCOPE_VERSION);
  }
  return cachedTracer;
}
