// The fleet's routing and outlier ejection, for servers that route raw HTTP over the same hosts
// (the gateway). Not part of the client's API: the `@bulwark/ollama/fleet-routing` subpath.
export { Fleet, type FleetHost, type HostLease } from './fleet/fleet.js';
export {
  DEFAULT_OUTLIER_DETECTION,
  type OutlierDetectionSettings,
  verdictOf,
} from './fleet/outlier-detection.js';
