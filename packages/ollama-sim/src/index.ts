// The simulator's public API: the server, its pure reply function, the option error, the
// constants tests compare against, and the types. Everything else is internal.
export { FAULT_KINDS } from './faults.js';
export { DEFAULT_MODELS, KNOWN_MODEL_NAMES } from './model-catalog.js';
export { RUNNER_ERROR_MESSAGE } from './response-output.js';
export { SERVER_BUSY_MESSAGE } from './scheduler.js';
export { startOllamaSim } from './server.js';
export { simulatedReply } from './simulated-reply.js';
export type {
  Fault,
  FaultKind,
  FaultRequest,
  ModelCapability,
  ModelSpec,
  ModelStats,
  OllamaSim,
  OllamaSimOptions,
  ReplyRequest,
  ReplyTokens,
  RequestOutcome,
  RequestRecord,
  SimulatedReply,
  SimulatedToolCall,
} from './types.js';
export { SimOptionError } from './validate-options.js';
