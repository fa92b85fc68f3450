/**
 * `@bulwark/ollama/internal`: what the `bulwark` umbrella and the tests share with this package
 * (call timeout checks, host parsing, the NDJSON line reader, and the fleet's routing, per-attempt
 * hosts, outlier ejection and shared host state for servers that route raw HTTP over the same
 * hosts, such as the gateway). Not part of the public API: any release may change it. Import from
 * `@bulwark/ollama` instead.
 */
export { MIN_TIMEOUT_MS, resolveCallTimeout, timeoutNumber } from './call-timeout.js';
export { CallRoute } from './fleet/call-route.js';
export { Fleet, type FleetHost, type HostLease } from './fleet/fleet.js';
export {
  DEFAULT_OUTLIER_DETECTION,
  type OutlierDetectionSettings,
  verdictOf,
} from './fleet/outlier-detection.js';
export { resolveHost } from './host.js';
export { LineReader } from './line-reader.js';
export { SharedState } from './shared-state.js';
