export { CLI_HELP, type CliRequest, parseCliArgs } from './cli-options.js';
export { FAULT_KINDS, parseFaultSpec } from './faults.js';
export { decodeKeepAlive, parseGoDuration } from './go-duration.js';
export { goJson, rfc3339Nano } from './go-json.js';
export { DEFAULT_MODELS, KNOWN_MODEL_NAMES } from './model-catalog.js';
export { RUNNER_ERROR_MESSAGE } from './response-output.js';
export { SERVER_BUSY_MESSAGE } from './scheduler.js';
export { defaultFaultMessage, startOllamaSim } from './server.js';
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
