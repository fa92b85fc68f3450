import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs an example as a user would (`tsx --conditions=bulwark-source`), bounded in time. */
function run(
  file: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    delete childEnv.OLLAMA_HOST;
    Object.assign(childEnv, env);
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=bulwark-source', file], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('examples', () => {
  it('quickstart.ts answers through createOllama()', async () => {
    const { code, output } = await run('examples/quickstart.ts');
    expect(code, output).toBe(0);
    expect(output.trim().length).toBeGreaterThan(20);
  });

  it("from-python.ts runs the README's Python equivalents against the simulator", async () => {
    const { code, output } = await run('examples/from-python.ts');
    expect(code, output).toBe(0);
    expect(output).toContain('worst case: 380 s over 3 attempts');
    expect(output.match(/^answered: \S+/gm)).toHaveLength(3);
    expect(output).toMatch(/timed out: Timed out for the call to finish after 1000 ms/);
    expect(output).toContain("timed out (caller's signal): TimeoutError");
  });

  it('streaming-chat.ts prints tokens and the final count', async () => {
    const { code, output } = await run('examples/streaming-chat.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/\[\d+ tokens, (stop|length)\]/);
  });

  it('ollama-js.ts retries a 503 through @bulwark/fetch', async () => {
    const { code, output } = await run('examples/ollama-js.ts');
    expect(code, output).toBe(0);
    expect(output).toContain('ollama-js answered after 2 request(s)');
    expect(output).toContain('ollama-js: ResponseError 503 after 3 request(s)');
  });

  it('gateway.ts answers an Ollama client through the gateway', async () => {
    const { code, output } = await run('examples/gateway.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/live page: http:\/\/127\.0\.0\.1:\d+\/_bulwark\//);
  });

  it('openai-compatible.ts streams, and a lasting 503 costs 3 requests with the SDK’s retries off', async () => {
    const { code, output } = await run('examples/openai-compatible.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/openai streamed: \S+/);
    expect(output).toContain('openai: InternalServerError 503 after 3 request(s)');
    expect(output).toContain(
      'openai: APIConnectionTimeoutError (cause: undefined); Bulwark: Timed out waiting for the first token after 500 ms (attempt 3 of 3)',
    );
  });

  it('ai-sdk.ts answers, and a lasting 503 costs 3 requests with maxRetries: 0 on each call', async () => {
    const { code, output } = await run('examples/ai-sdk.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/ai generated after 2 request\(s\): \S+/);
    expect(output).toMatch(/ai streamed: \S+/);
    expect(output).toContain('ai: APICallError 503 after 3 request(s)');
    expect(output).toContain(
      'ai: TimeoutError: Timed out waiting for the first token after 500 ms (attempt 3 of 3)',
    );
  });

  it('pull-progress.ts draws one bar for every layer of a pull, ending at 100%', async () => {
    const { code, output } = await run('examples/pull-progress.ts');
    expect(code, output).toBe(0);
    const lines = output.trim().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.some((line) => /\] +\d{1,2}\.\d% /.test(line))).toBe(true);
    expect(lines.at(-1)).toMatch(/^\[#{30}\] 100\.0% (\S+) MB of \1 MB, .* success$/);
  });

  it('service.ts answers 503 with Retry-After once a model’s breaker opens', async () => {
    const { code, output } = await run('examples/service.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/qwen3: 503 \(Retry-After: \d+\)/);
    expect(output.trim().split('\n').at(-1)).toBe('llama3.2: 200');
  });

  it('recommended-pipeline.ts prints the retries of its hand-built pipeline', async () => {
    const { code, output } = await run('examples/recommended-pipeline.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/retry: attempt 2 failed \(Server answered 503[^)]*\); next in \d+ ms/);
    expect(output).toMatch(/answered: \S+/);
  });

  it('failover.ts keeps answering when one host fails', async () => {
    const { code, output } = await run('examples/failover.ts');
    expect(code, output).toBe(0);
    expect(output).toContain('6 of 6 calls answered; the primary saw 2 chat requests');
  });

  it('fleet.ts routes around the failing host and ejects it', async () => {
    const { code, output } = await run('examples/fleet.ts');
    expect(code, output).toBe(0);
    expect(output).toContain('20 of 20 calls answered');
    expect(output).toMatch(/: ejected, warm: llama3\.2\n/);
    expect(output).toMatch(/: healthy, warm: none\n/);
  });

  it('otel-console.ts shows the call and attempt spans', async () => {
    expect(existsSync(`${root}/examples/otel-console.ts`)).toBe(true);
    const { code, output } = await run('examples/otel-console.ts');
    expect(code, output).toBe(0);
    expect(output).toContain('bulwark.attempt');
  });

  it("prometheus-metrics.ts (the README's SDK snippet) serves the per-call outcomes on /metrics", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const { code, output } = await run('examples/prometheus-metrics.ts', { METRICS_PORT: String(port) });
    expect(code, output).toBe(0);
    expect(output).toMatch(/^bulwark_calls_total\{[^}]*bulwark_call_outcome="success"[^}]*\} 2$/m);
    expect(output).toMatch(
      /^bulwark_calls_total\{[^}]*bulwark_call_outcome="timeout",error_type="ERR_BULWARK_TIMEOUT",bulwark_timeout_phase="first-token"[^}]*\} 1$/m,
    );
  });

  it('pnpm start runs the whole demonstration and prints its summary', async () => {
    const scripts = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).scripts;
    expect(scripts.start).toBe('tsx --conditions=bulwark-source examples/demo.ts');
    const { code, output } = await run('examples/demo.ts');
    expect(code, output).toBe(0);
    for (const heading of [
      'A hung server',
      'A 503 storm',
      'One model keeps failing',
      'A burst of 20 calls',
    ]) {
      expect(output).toContain(heading);
    }
    expect(output).toMatch(/caught after \d+ ms: Timed out waiting for the first token after 1000 ms/);
    expect(output).toMatch(/breaker qwen3: closed → open/);
    expect(output).toMatch(/one probe closed the breaker/);
    expect(output).toMatch(/8 served, 12 turned away at once; the server never saw more than 2 at a time/);
    expect(output).toMatch(/timeouts by phase\s+first-token 1/);
    expect(output).toMatch(/breakers\s+qwen3 closed \(opened [1-9]\d*×\)/);
    expect(output).toMatch(/bulkhead\s+8 served, 12 rejected, at most 2 in flight/);
    expect(output).toMatch(/latency p50 \/ p99\s+\d+ ms \/ \d+ ms/);
  });

  it('pnpm start with OLLAMA_HOST runs only the healthy part against that server', async () => {
    const sim = await startOllamaSim({ tokenDelayMs: 1 });
    try {
      const { code, output } = await run('examples/demo.ts', { OLLAMA_HOST: sim.url });
      expect(code, output).toBe(0);
      expect(output).toContain(`Bulwark demo against ${sim.url}`);
      expect(output).toMatch(/✓ \d+ characters streamed/);
      expect(output).not.toContain('A hung server');
      expect(output).toMatch(/calls\s+1 \(1 ok, 0 failed\)/);
      // the client's load of the cold model (an empty generate), then the call
      expect(sim.requests.map((request) => request.route)).toEqual(['/api/generate', '/api/chat']);
    } finally {
      await sim.close();
    }
  });
});
