import { ProxyTracerProvider, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import { SCOPE_NAME, SCOPE_VERSION } from './version.js';

// The API's no-op provider is not exported; an unregistered proxy hands it out.
const noopTracerProvider = new ProxyTracerProvider().getDelegate();

let cachedProvider: TracerProvider | undefined;
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
  if (provider !== cachedProvider || !cachedTracer) {
    cachedProvider = provider;
    cachedTracer = provider.getTracer(SCOPE_NAME, SCOPE_VERSION);
  }
  return cachedTracer;
}
