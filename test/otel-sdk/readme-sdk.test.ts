// The READMEs' OpenTelemetry SDK setup (the five console lines of packages/otel/README.md, the
// Prometheus exporter and the View of the repository's README) run as written against the SDK a user
// installs: node20/ pins what npm picks on Node 20 (the 2.x SDK, API 1.9), node24/ what it picks on
// Node >= 22.15 (the 3.x majors, API 1.10; optional dependencies there, since an install on Node 20
// skips them). Each set whose engines the running Node satisfies runs; a missing set fails.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const here = fileURLToPath(new URL('.', import.meta.url));

interface SdkSet {
  name: 'node20' | 'node24';
  /** The lowest Node version the set's packages allow (their `engines`). */
  minNode: [number, number];
  /** The major each SDK package must have. */
  majors: Record<string, number>;
}

const sets: SdkSet[] = [
  {
    name: 'node20',
    minNode: [20, 6],
    majors: {
      '@opentelemetry/api': 1,
      '@opentelemetry/sdk-trace': 2,
      '@opentelemetry/sdk-metrics': 2,
      '@opentelemetry/context-async-hooks': 2,
      '@opentelemetry/exporter-prometheus': 0,
    },
  },
  {
    name: 'node24',
    minNode: [22, 15],
    majors: {
      '@opentelemetry/api': 1,
      '@opentelemetry/sdk-trace': 3,
      '@opentelemetry/sdk-metrics': 3,
      '@opentelemetry/context-async-hooks': 3,
      '@opentelemetry/exporter-prometheus': 0,
    },
  },
];

const [nodeMajor, nodeMinor] = process.versions.node.split('.').map(Number) as [number, number];
const runsHere = (set: SdkSet) =>
  nodeMajor > set.minNode[0] || (nodeMajor === set.minNode[0] && nodeMinor >= set.minNode[1]);

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const blocks = (markdown: string) =>
  [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] as string);
function blockWith(path: string, marker: string): string {
  const found = blocks(read(path)).filter((block) => block.includes(marker));
  if (found.length !== 1)
    throw new Error(`expected one ts block of ${path} with ${marker}, found ${found.length}`);
  return found[0] as string;
}

/** The installed version of a package of a set, or an error saying how to install it. */
function installedVersion(set: SdkSet, name: string): string {
  const manifest = join(here, set.name, 'node_modules', name, 'package.json');
  if (!existsSync(manifest))
    throw new Error(
      `${name} of test/otel-sdk/${set.name} is not installed: run \`pnpm install\` with Node ${set.minNode.join('.')} or later`,
    );
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The snippets, in a script whose imports resolve to the set's packages. */
function script(port: number): string {
  return [
    "import { wrap } from '@bulwark/core';",
    "import { Ollama } from '@bulwark/ollama';",
    "import { startOllamaSim } from '@bulwark/ollama-sim';",
    "import { instrument } from '@bulwark/otel';",
    "import { retry } from '@bulwark/retry';",
    "import { metrics } from '@opentelemetry/api';",
    "import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';",
    "import { AggregationType, MeterProvider } from '@opentelemetry/sdk-metrics';",
    blockWith('packages/otel/README.md', 'ConsoleSpanExporter'),
    `const port = ${port};`,
    blockWith('README.md', 'new PrometheusExporter'),
    blockWith('README.md', 'AggregationType.EXPLICIT_BUCKET_HISTOGRAM'),
    "console.log('resolved', import.meta.resolve('@opentelemetry/sdk-metrics'));",
    "console.log('resolved', import.meta.resolve('@opentelemetry/sdk-trace'));",
    "const sim = await startOllamaSim({ faults: [{ route: '/api/chat', status: 503, times: 1 }] });",
    'const ollama = new Ollama({ host: sim.url, policy: wrap(retry({ maxAttempts: 2, initialDelayMs: 1 })), instrument });',
    'try {',
    "  const answer = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'Hello' }] });",
    "  console.log('answer', answer.done);",
    "  const scrape = await (await fetch('http://127.0.0.1:' + port + '/metrics')).text();",
    "  for (const line of scrape.split('\\n')) if (/^(bulwark_calls_total|gen_ai_client_operation_duration_bucket)/.test(line)) console.log('metric ' + line);",
    '} finally {',
    '  await ollama.close();',
    '  await sim.close();',
    '  await meterProvider.shutdown();',
    '  await customBuckets.shutdown();',
    '}',
    '',
  ].join('\n');
}

const workDirs: string[] = [];
afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the script with the running Node, its imports resolved from the set's node_modules. */
async function runWith(set: SdkSet): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), `bulwark-otel-sdk-${set.name}-`));
  workDirs.push(dir);
  symlinkSync(join(here, set.name, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'snippets.mts'), script(await freePort()));
  // One @opentelemetry/api for everything, as in a user's install: Bulwark's sources run from
  // packages/, whose own node_modules hold the repository's API version, so a tsconfig `paths`
  // entry (tsx applies it outside node_modules) points them at the set's API.
  const api = createRequire(join(here, set.name, 'package.json')).resolve('@opentelemetry/api');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { paths: { '@opentelemetry/api': [api] } } }),
  );
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=bulwark-source', join(dir, 'snippets.mts')],
      {
        cwd: root,
        env: { ...process.env, OLLAMA_HOST: '', TSX_TSCONFIG_PATH: join(dir, 'tsconfig.json') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the README SDK setup on the SDK a user installs', () => {
  it('runs the 3.x set on Node 22.15 and later, and the 2.x set everywhere', () => {
    const expected =
      nodeMajor >= 23 || (nodeMajor === 22 && nodeMinor >= 15) ? ['node20', 'node24'] : ['node20'];
    expect(sets.filter(runsHere).map((set) => set.name)).toEqual(expected);
  });

  for (const set of sets.filter(runsHere)) {
    it(`${set.name}: the packages are the expected majors`, () => {
      for (const [name, major] of Object.entries(set.majors))
        expect(Number(installedVersion(set, name).split('.')[0]), name).toBe(major);
    });

    it(`${set.name}: the console lines print the spans and the Prometheus exporter serves the metrics with Bulwark's buckets`, async () => {
      const metricsVersion = installedVersion(set, '@opentelemetry/sdk-metrics');
      const traceVersion = installedVersion(set, '@opentelemetry/sdk-trace');
      const { code, output } = await runWith(set);
      expect(code, output).toBe(0);
      // The snippets' imports came from this set (pnpm's store path names the version).
      expect(output).toContain(`@opentelemetry+sdk-metrics@${metricsVersion}`);
      expect(output).toContain(`@opentelemetry+sdk-trace@${traceVersion}`);
      expect(output).toContain('answer true');
      // ConsoleSpanExporter: the call span and its two attempts (the first answered 503).
      expect(output).toMatch(/name: 'chat llama3\.2'/);
      expect(output.match(/name: 'bulwark\.attempt'/g)).toHaveLength(2);
      // The Prometheus exporter: one call, a success, and the duration histogram with the advice's top bucket.
      expect(output).toMatch(/^metric bulwark_calls_total\{[^}]*bulwark_call_outcome="success"[^}]*\} 1$/m);
      expect(output).toMatch(/^metric gen_ai_client_operation_duration_bucket\{[^}]*le="900"[^}]*\} 1$/m);
    }, 45_000);
  }
});
