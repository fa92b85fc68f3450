export { GATEWAY_DEFAULTS } from './defaults.js';
export type { LiveSnapshot, UpstreamState, WarmModel } from './live-state.js';
export { startGateway } from './start-gateway.js';
export { otlpMetricsUrl } from './telemetry.js';
export type { Gateway, GatewayOptions } from './types.js';
