// A real Prometheus scrapes Bulwark's metrics through the OpenTelemetry Prometheus exporter, and
// every PromQL query of the README's operator section returns what the scripted calls make true.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Context, ManualClock, noop, wrap } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { instrument } from '@bulwark/otel';
import { retry } from '@bulwark/retry';
import { timeout } from '@bulwark/timeout';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './binaries.js';

const prometheus = requireBinary('prometheus');

/** The DURATION_BUCKETS of @bulwark/otel, to place a value in its bucket. */
const BUCKETS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600,
  900,
];
const bucketOf = (seconds: number) => {
  const index = BUCKETS.findIndex((bound) => seconds <= bound);
  return index === -1 ? BUCKETS.length : index;
};

/** The README's PromQL blocks, comment lines removed. */
function readmeQueries(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(/```promql\n([\s\S]*?)```/g)].map((match) =>
    (match[1] as string)
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n')
      .trim(),
  );
}

const toOtlp = (query: string) =>
  query
    .replaceAll('gen_ai_client_operation_duration_bucket', 'gen_ai_client_operation_duration_seconds_bucket')
    .replaceAll(
      'gen_ai_client_operation_time_to_first_chunk_bucket',
      'gen_ai_client_operation_time_to_first_chunk_seconds_bucket',
    );

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(prometheus === undefined)('a real Prometheus scraping the OTel Prometheus exporter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-prometheus-'));
  let sim: OllamaSim;
  let metricsServer: Server;
  let meterProvider: MeterProvider;
  let child: ChildProcess | undefined;
  let output = '';
  let api = '';

  async function query(expression: string, time?: number): Promise<Sample[]> {
    const parameters = new URLSearchParams({ query: expression });
    if (time !== undefined) parameters.set('time', time.toFixed(3));
    const response = await fetch(`${api}/api/v1/query?${parameters}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; error?: string; data: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`${expression}: ${body.error}`);
    return body.data.result;
  }

  /** The timestamp (s) of the first scrape that started after `afterMs` (epoch ms), once ingested. */
  async function scrapeAfter(afterMs: number): Promise<number> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const [up] = await query('timestamp(up{job="bulwark"})');
      const at = up ? Number(up.value[1]) : 0;
      if (at * 1000 > afterMs) return at;
      await sleep(100);
    }
    throw new Error(`no scrape after ${new Date(afterMs).toISOString()}; prometheus said:\n${output}`);
  }

  beforeAll(async () => {
    sim = await startOllamaSim({
      models: ['llama3.2', { name: 'gemma3', tokenDelayMs: 5, replyTokens: 100 }],
      numParallel: 32,
      faults: [
        {
          route: '/api/chat',
          kind: 'hang',
          when: (request) => JSON.stringify(request.body).includes('[hang]'),
        },
        {
          route: '/api/chat',
          kind: 'stall',
          afterChunks: 2,
          when: (request) => JSON.stringify(request.body).includes('[stall]'),
        },
        {
          route: '/api/chat',
          status: 503,
          when: (request) => JSON.stringify(request.body).includes('[busy]'),
        },
      ],
    });
    // The exporter's handler on a loopback port of our choosing (port 0: no clash with other tests).
    const exporter = new PrometheusExporter({ preventServerStart: true });
    meterProvider = new MeterProvider({ readers: [exporter] });
    metrics.setGlobalMeterProvider(meterProvider);
    metricsServer = createServer((request, response) => exporter.getMetricsRequestHandler(request, response));
    await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;

    const webPort = await freePort();
    api = `http://127.0.0.1:${webPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: bulwark',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    child = spawn(
      prometheus as string,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${webPort}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${api}/-/ready`, { signal: AbortSignal.timeout(1_000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`prometheus did not start:\n${output}`);
      await sleep(100);
    }
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    metrics.disable();
    await meterProvider?.shutdown();
    await new Promise((resolve) => metricsServer?.close(resolve));
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every README query with the truth of a scripted mix', async () => {
    const ollama = new Ollama({
      host: sim.url,
      policy: wrap(
        retry({ maxAttempts: 2, initialDelayMs: 10, budget: false }),
        timeout({ firstTokenMs: 2_500, idleMs: 1_500 }),
      ),
      instrument,
    });
    // Calls longer than the run can wait for go through the same instruments with a clock we move.
    const longCalls = instrument(noop());
    const clock = new ManualClock();
    const longCall = () =>
      longCalls.execute(
        async (context: Context) => {
          clock.advance(95_000);
          context.firstChunk();
          clock.advance(5_000);
          return { model: 'long', done: true, done_reason: 'stop', eval_count: 10 };
        },
        {
          clock,
          attributes: { operation: 'chat', model: 'long', host: sim.url, provider: 'ollama' },
        },
      );

    // One round: llama3.2 2 hung calls of 10 (first-token), 1 stalled (idle), 1 busy (503);
    // gemma3 9 slow streamed 100-token answers and 1 hung call; one 100 s call of `long`.
    const durations: number[] = [];
    const firstChunks: number[] = [];
    const chat = async (model: string, content: string, stream: boolean) => {
      const started = performance.now();
      try {
        const messages = [{ role: 'user' as const, content }];
        if (stream) {
          let first = true;
          for await (const _part of await ollama.chat({ model, messages, stream: true })) {
            if (first && model === 'gemma3') firstChunks.push((performance.now() - started) / 1000);
            first = false;
          }
        } else {
          await ollama.chat({ model, messages });
        }
      } catch {
        // The failures are the point.
      }
      if (model === 'gemma3') durations.push((performance.now() - started) / 1000);
    };
    const round = () =>
      Promise.all([
        ...[0, 1, 2].map((index) => chat('llama3.2', `ok ${index}`, true)),
        ...[3, 4, 5].map((index) => chat('llama3.2', `ok ${index}`, false)),
        chat('llama3.2', '[hang] a', false),
        chat('llama3.2', '[hang] b', true),
        chat('llama3.2', '[stall]', true),
        chat('llama3.2', '[busy]', false),
        ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((index) => chat('gemma3', `slow ${index}`, true)),
        chat('gemma3', '[hang]', true),
        longCall(),
      ]);

    try {
      // A first round makes every series exist before the measured one, so the measured window
      // holds a sample of each at both ends and Prometheus extrapolates nothing.
      await scrapeAfter(Date.now());
      await round();
      const start = await scrapeAfter(Date.now());
      durations.length = 0;
      firstChunks.length = 0;
      await round();
      const end = await scrapeAfter(Date.now());
      const windowMs = Math.round((end - start) * 1000);
      const measured = (expression: string) => query(expression.replaceAll('[5m]', `[${windowMs}ms]`), end);

      const calls = await measured('sum by (gen_ai_request_model) (increase(bulwark_calls_total[5m]))');
      expect(
        Object.fromEntries(
          calls.map((sample) => [sample.metric.gen_ai_request_model, Number(sample.value[1])]),
        ),
      ).toEqual({ 'llama3.2': 10, gemma3: 10, long: 1 });

      const queries = readmeQueries();
      const exporterQueries = queries.filter((text) => !text.includes('_seconds_bucket'));
      const otlpQueries = queries.filter((text) => text.includes('_seconds_bucket'));
      expect(exporterQueries).toHaveLength(3);
      expect(otlpQueries.sort()).toEqual(
        exporterQueries
          .filter((text) => text.includes('_bucket'))
          .map(toOtlp)
          .sort(),
      );

      for (const text of exporterQueries) {
        const result = await measured(text);
        if (text.includes('bulwark_call_outcome="timeout"')) {
          const ratios = Object.fromEntries(
            result.map((sample) => [
              `${sample.metric.gen_ai_request_model} ${sample.metric.bulwark_timeout_phase}`,
              Number(sample.value[1]),
            ]),
          );
          expect(Object.keys(ratios).sort()).toEqual([
            'gemma3 first-token',
            'llama3.2 first-token',
            'llama3.2 idle',
          ]);
          expect(ratios['llama3.2 first-token']).toBeCloseTo(0.2, 9);
          expect(ratios['llama3.2 idle']).toBeCloseTo(0.1, 9);
          expect(ratios['gemma3 first-token']).toBeCloseTo(0.1, 9);
          continue;
        }
        const p99 = Object.fromEntries(
          result.map((sample) => [sample.metric.gen_ai_request_model, Number(sample.value[1])]),
        );
        const truth = text.includes('time_to_first_chunk') ? firstChunks : durations;
        const longTruth = text.includes('time_to_first_chunk') ? 95 : 100;
        const sorted = [...truth].sort((a, b) => a - b);
        const truthP99 = sorted[Math.ceil(0.99 * sorted.length) - 1] as number;
        expect(sorted.length, text).toBe(text.includes('time_to_first_chunk') ? 9 : 10);
        expect(
          Math.abs(bucketOf(p99.gemma3 as number) - bucketOf(truthP99)),
          `${text}: ${p99.gemma3} vs ${truthP99}`,
        ).toBeLessThanOrEqual(1);
        // Past 82 s: the 95 s and 100 s points land in the 90-120 s bucket, not in +Inf.
        expect(bucketOf(p99.long as number), text).toBe(bucketOf(longTruth));
        expect(p99.long).toBeGreaterThan(90);
        expect(p99.long).toBeLessThanOrEqual(120);
      }
    } finally {
      await ollama.close();
    }
  }, 60_000);
});
