import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ResponseError } from '@bulwark/core';
import { retry } from '@bulwark/retry';
import { propagation, SpanKind } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { ConstantBackoff } from 'cockatiel';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrument, startSpanHook } from './index.js';
import { type Harness, registerOtel, unregisterOtel } from './test-support/otel-harness.js';
import { traceContextPropagator } from './test-support/trace-context-propagator.js';

let otel: Harness;
let instrumentation: UndiciInstrumentation;
const received: IncomingMessage['rawHeaders'][] = [];
let hits = 0;
const server = createServer((req, res) => {
  received.push(req.rawHeaders);
  req.resume();
  hits++;
  if (hits === 1) {
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"server busy"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ model: 'llama3.2', message: { role: 'assistant', content: 'hi' }, done: true }));
});
let origin = '';

beforeAll(async () => {
  otel = registerOtel();
  propagation.setGlobalPropagator(traceContextPropagator);
  instrumentation = new UndiciInstrumentation({ startSpanHook });
  instrumentation.setTracerProvider(otel.tracerProvider);
  instrumentation.enable();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  instrumentation.disable();
  server.close();
  await unregisterOtel(otel);
});

describe('with @opentelemetry/instrumentation-undici', () => {
  it('parents each HTTP span to its attempt span and sends one traceparent per request', async () => {
    const policy = instrument(retry({ maxAttempts: 3, backoff: new ConstantBackoff(0), budget: false }));
    const answer = await policy.execute(
      async ({ signal }) => {
        const response = await request(`${origin}/api/chat`, { method: 'POST', body: '{}', signal });
        const body = (await response.body.json()) as Record<string, unknown>;
        if (response.statusCode >= 400) throw new ResponseError({ status: response.statusCode });
        return body;
      },
      { attributes: { operation: 'chat', model: 'llama3.2', host: origin, provider: 'ollama' } },
    );
    expect(answer.done).toBe(true);

    const spans = otel.spans();
    const attempts = spans.filter((span) => span.name === 'bulwark.attempt');
    const http = spans.filter((span) => span.kind === SpanKind.CLIENT && span.name === 'POST');
    expect(attempts).toHaveLength(2);
    expect(http).toHaveLength(2);
    for (const attempt of attempts) {
      const number = attempt.attributes['bulwark.attempt.number'] as number;
      const child = http.filter((span) => span.parentSpanContext?.spanId === attempt.spanContext().spanId);
      expect(child).toHaveLength(1);
      expect(child[0]?.attributes['http.request.resend_count']).toBe(number === 0 ? undefined : number);
    }

    expect(received).toHaveLength(2);
    for (const raw of received) {
      const names = raw.filter((_value, position) => position % 2 === 0).map((name) => name.toLowerCase());
      expect(names.filter((name) => name === 'traceparent')).toHaveLength(1);
      const header = raw[names.indexOf('traceparent') * 2 + 1];
      // The traceparent names the HTTP span, itself a child of the attempt span.
      expect(http.map((span) => span.spanContext().spanId)).toContain(header?.split('-')[2]);
    }
  });
});
