/** The instrumentation scope of every tracer and meter this package obtains. */
export const SCOPE_NAME = '@bulwark/otel';
export const SCOPE_VERSION = '0.1.0';
