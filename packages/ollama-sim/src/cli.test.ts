import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_HELP, logLine, parseCliArgs } from './cli-options.js';
import type { RequestRecord } from './types.js';

describe('parseCliArgs', () => {
  it('turns flags into simulator options', () => {
    const request = parseCliArgs([
      '--port',
      '0',
      '--host',
      '::1',
      '-m',
      'llama3.2',
      '--model',
      '{"name":"slow","loadMs":2000,"numParallel":2}',
      '--fault',
      'route=/api/chat,nth=2,status=503',
      '-f',
      '[{"kind":"hang","model":"slow"}]',
      '--num-parallel',
      '4',
      '--max-queue',
      '8',
      '--bound-slot-wait',
      '--max-loaded-models',
      '2',
      '--keep-alive-ms=-1',
      '--load-ms',
      '100',
      '--prompt-eval-ms',
      '5',
      '--token-delay-ms',
      '10',
      '--reply-tokens',
      '5-9',
      '--ollama-version',
      '0.9.0',
      '--log',
    ]);
    expect(request).toEqual({
      help: false,
      log: true,
      options: {
        port: 0,
        host: '::1',
        models: ['llama3.2', { name: 'slow', loadMs: 2000, numParallel: 2 }],
        faults: [
          { route: '/api/chat', nth: 2, status: 503 },
          { kind: 'hang', model: 'slow' },
        ],
        numParallel: 4,
        maxQueue: 8,
        boundSlotWait: true,
        maxLoadedModels: 2,
        keepAliveMs: -1,
        loadMs: 100,
        promptEvalMs: 5,
        tokenDelayMs: 10,
        replyTokens: [5, 9],
        version: '0.9.0',
      },
    });
    expect(parseCliArgs([]).options).toEqual({ port: 11_434 });
    expect(parseCliArgs(['-h']).help).toBe(true);
    expect(CLI_HELP).toContain('--fault');
  });

  it('rejects unknown flags and bad values, naming them', () => {
    expect(() => parseCliArgs(['--nope'])).toThrow("Unknown option '--nope'");
    expect(() => parseCliArgs(['--port', 'x'])).toThrow('--port must be a number, got "x"');
    expect(() => parseCliArgs(['--fault', 'nth'])).toThrow('--fault: expected key=value, got "nth"');
    expect(() => parseCliArgs(['--model', '{bad'])).toThrow(/--model: invalid JSON/);
  });
});

describe('logLine', () => {
  const record = (fault: RequestRecord['fault']): RequestRecord => ({
    id: 1,
    method: 'POST',
    route: '/api/chat',
    url: '/api/chat',
    model: 'llama3.2',
    body: undefined,
    headers: {},
    status: 503,
    outcome: 'error',
    fault,
    chunks: 0,
    error: undefined,
    startedAt: 1000,
    headersAt: 1001,
    endedAt: 1012.4,
  });

  it('labels the fault by its name, else by its kind (a status fault is "status"), else "latency"', () => {
    expect(logLine(record(undefined))).toBe('POST /api/chat llama3.2 503 error 0 chunks 12 ms');
    expect(logLine(record({ status: 503 }))).toMatch(/ fault=status$/);
    expect(logLine(record({ kind: 'hang' }))).toMatch(/ fault=hang$/);
    expect(logLine(record({ name: 'busy', status: 503 }))).toMatch(/ fault=busy$/);
    expect(logLine(record({ delayMs: 50 }))).toMatch(/ fault=latency$/);
  });
});

// These tests run the built CLI, `dist/cli.js`, as the package's `bin` does: the set-up builds the
// package first (`tsc -b`, a no-op when `pnpm build` already ran, as it does in CI).
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const cli = join(packageDir, 'dist', 'cli.js');
let child: ChildProcess | undefined;

beforeAll(() => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', join(packageDir, 'tsconfig.json')], { stdio: 'pipe' });
  if (!existsSync(cli)) throw new Error(`${cli} is missing after the build`);
}, 180_000);

afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

async function startCli(
  args: string[],
): Promise<{ process: ChildProcess; url: string; stderr: () => string }> {
  const started = spawn(process.execPath, [cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  let output = '';
  let errors = '';
  started.stderr?.on('data', (data: Buffer) => {
    errors += data.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 15_000);
    started.stdout?.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    started.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
  });
  return { process: started, url, stderr: () => errors };
}

describe('bulwark-ollama-sim', () => {
  it('serves any Ollama client, applies --fault, and stops on SIGTERM', async () => {
    const { process: running, url } = await startCli([
      '--port',
      '0',
      '--model',
      'llama3.2',
      '--fault',
      'route=/api/chat,nth=2,status=503',
    ]);
    const ollama = new Ollama({ host: url });
    const first = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    expect(first.done).toBe(true);
    await expect(
      ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({
      status_code: 503,
    });
    expect((await ollama.list()).models.map((model) => model.name)).toEqual(['llama3.2:latest']);
    running.kill('SIGTERM');
    const [code] = await once(running, 'exit');
    expect(code).toBe(0);
  });

  it('prints one --log line per finished request, labelling each fault', async () => {
    const {
      process: running,
      url,
      stderr,
    } = await startCli([
      '--port',
      '0',
      '--log',
      '--fault',
      'route=/api/chat,nth=1,status=503',
      '--fault',
      'route=/api/tags,delayMs=1',
    ]);
    const chat = await fetch(`${url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(503);
    await chat.text();
    expect((await fetch(`${url}/api/tags`)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    while (stderr().split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await delay(50);
    const lines = stderr().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^POST \/api\/chat llama3\.2 503 error 0 chunks \d+ ms fault=status$/);
    expect(lines[1]).toMatch(/^GET \/api\/tags - 200 completed 0 chunks \d+ ms fault=latency$/);
    running.kill('SIGTERM');
    await once(running, 'exit');
  });

  it('prints help and exits 0; exits 2 on an unknown flag and 1 on a bad value', async () => {
    const help = spawn(process.execPath, [cli, '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    help.stdout?.on('data', (data: Buffer) => {
      text += data.toString();
    });
    const [helpCode] = await once(help, 'exit');
    expect(helpCode).toBe(0);
    expect(text).toContain('Usage: bulwark-ollama-sim');
    const unknown = spawn(process.execPath, [cli, '--nope'], { stdio: 'ignore' });
    const [unknownCode] = await once(unknown, 'exit');
    expect(unknownCode).toBe(2);
    const bad = spawn(process.execPath, [cli, '--max-queue=-3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errors = '';
    bad.stderr?.on('data', (data: Buffer) => {
      errors += data.toString();
    });
    const [badCode] = await once(bad, 'exit');
    expect(badCode).toBe(1);
    expect(errors).toContain('option "maxQueue" must be a whole number >= 0, got -3');
  });
});
