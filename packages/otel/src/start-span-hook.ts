import { type Attributes, context } from '@opentelemetry/api';
import { ATTEMPT_KEY } from './call-state.js';
import { ATTR_HTTP_REQUEST_RESEND_COUNT } from './semconv.js';
import type { UndiciRequestLike } from './types.js';

const none: Attributes = Object.freeze({});

/**
 * A `startSpanHook` for `@opentelemetry/instrumentation-undici`: sets `http.request.resend_count`
 * on the HTTP span of a retried attempt (the attempt number, from 1 on). The instrumentation calls
 * it synchronously where the request is created, inside the attempt's context.
 *
 * @example
 * new UndiciInstrumentation({ startSpanHook })
 */
export function startSpanHook(_request?: UndiciRequestLike): Attributes {
  const attempt = context.active().getValue(ATTEMPT_KEY);
  return typeof attempt === 'number' && attempt >= 1 ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: attempt } : none;
}
