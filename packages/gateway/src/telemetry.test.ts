import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from './start-gateway.js';
import { otlpMetricsUrl } from './telemetry.js';
import type { Gateway } from './types.js';

describe('otlpMetricsUrl', () => {
  it('follows the standard OTel variables', () => {
    expect(otlpMetricsUrl({})).toBeUndefined();
    expect(otlpMetricsUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/metrics',
    );
    expect(
      otlpMetricsUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://metrics:9999/custom',
      }),
    ).toBe('http://metrics:9999/custom');
    expect(
      otlpMetricsUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_METRICS_EXPORTER: 'none' }),
    ).toBeUndefined();
    expect(
      otlpMetricsUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_METRICS_EXPORTER: 'prometheus, otlp',
      }),
    ).toBe('http://c:4318/v1/metrics');
  });
});

let sim: OllamaSim | undefined;
let gateway: Gateway | undefined;
let stopCollector: (() => Promise<void>) | undefined;
afterEach(async () => {
  await gateway?.close();
  await sim?.close();
  await stopCollector?.();
});

describe('OTLP export', () => {
  it('posts the gateway metrics to the OTLP endpoint the environment names', async () => {
    const received: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];
    let notify: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      notify = resolve;
    });
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        received.push({ path: request.url ?? '', headers: request.headers, body });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        if (body.includes('bulwark.gateway.requests')) notify();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    stopCollector = () => new Promise((resolve) => collector.close(() => resolve()));
    const { port } = collector.address() as AddressInfo;
    sim = await startOllamaSim();
    gateway = await startGateway({
      upstream: sim.url,
      port: 0,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_METRIC_EXPORT_INTERVAL: '200' },
    });
    const answer = await fetch(`${gateway.url}/api/tags`);
    expect(answer.status).toBe(200);
    await answer.text();
    await Promise.race([
      arrived,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no OTLP export within 8 s')), 8_000)),
    ]);
    const last = received.at(-1);
    expect(last?.path).toBe('/v1/metrics');
    expect(last?.headers['content-type']).toMatch(/json|protobuf/);
    expect(last?.body).toContain('bulwark.gateway.requests');
  });
});
