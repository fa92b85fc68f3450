/** The gateway's defaults, in one place. */
export const GATEWAY_DEFAULTS = {
  host: '127.0.0.1',
  port: 11434,
  maxBodyBytes: 33_554_432,
  refreshMs: 2_000,
  pageIntervalMs: 1_000,
  /** The upstream probe (`/api/ps`, `/api/version`) gives up after this. */
  probeTimeoutMs: 2_000,
  /** Time-to-first-chunk samples kept for the percentiles (last minute, at most this many). */
  maxSamples: 2_048,
} as const;
