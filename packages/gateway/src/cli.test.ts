import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { Ollama } from 'ollama';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI_HELP, parseCliArgs } from './cli-options.js';

const folder = mkdtempSync(join(tmpdir(), 'bulwark-gateway-cli-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const path = join(folder, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('parseCliArgs', () => {
  it('reads flags, then the environment, then the config file', () => {
    const file = configFile({
      upstream: 'http://file:11434',
      port: 1,
      host: '::1',
      maxBodyBytes: 5,
      bulkhead: { limit: 2 },
    });
    expect(parseCliArgs(['--config', file], {}).options).toEqual({
      upstreams: ['http://file:11434'],
      port: 1,
      host: '::1',
      maxBodyBytes: 5,
      bulkhead: { limit: 2 },
    });
    const env = {
      BULWARK_GATEWAY_CONFIG: file,
      BULWARK_GATEWAY_UPSTREAM: 'http://env:11434',
      BULWARK_GATEWAY_PORT: '2',
      BULWARK_GATEWAY_API_KEYS: 'one, two',
      BULWARK_GATEWAY_MAX_RETRIES: '0',
    };
    expect(parseCliArgs([], env).options).toEqual({
      upstreams: ['http://env:11434'],
      port: 2,
      host: '::1',
      maxBodyBytes: 5,
      maxRetries: 0,
      apiKeys: ['one', 'two'],
      bulkhead: { limit: 2 },
    });
    expect(
      parseCliArgs(['-u', 'http://flag:11434', '-p', '3', '--max-body-bytes', '9'], env).options,
    ).toMatchObject({
      upstreams: ['http://flag:11434'],
      port: 3,
      maxBodyBytes: 9,
    });
    expect(
      parseCliArgs(['--redis', 'redis://flag:6379'], { ...env, BULWARK_GATEWAY_REDIS: 'redis://env:6379' })
        .options.redis,
    ).toBe('redis://flag:6379');
    expect(parseCliArgs([], { ...env, BULWARK_GATEWAY_REDIS: 'redis://env:6379' }).options.redis).toBe(
      'redis://env:6379',
    );
    expect(parseCliArgs(['--simulate'], {})).toEqual({ help: false, simulate: true, options: {} });
    expect(parseCliArgs(['-h'], {}).help).toBe(true);
    expect(CLI_HELP).toContain('--upstream');
  });

  it('takes several upstreams from repeated flags, a comma-separated variable or the file', () => {
    expect(
      parseCliArgs(['--upstream', 'http://a:1', '-u', 'http://b:2'], {
        BULWARK_GATEWAY_UPSTREAM: 'http://env:3',
      }).options.upstreams,
    ).toEqual(['http://a:1', 'http://b:2']);
    expect(
      parseCliArgs([], { BULWARK_GATEWAY_UPSTREAM: 'http://a:1, http://b:2,' }).options.upstreams,
    ).toEqual(['http://a:1', 'http://b:2']);
    expect(
      parseCliArgs(['-c', configFile({ upstreams: ['http://a:1', 'http://b:2'] })], {}).options.upstreams,
    ).toEqual(['http://a:1', 'http://b:2']);
    expect(() =>
      parseCliArgs(['-c', configFile({ upstream: 'http://a:1', upstreams: ['http://b:2'] })], {}),
    ).toThrow(/give "upstream" or "upstreams", not both/);
    expect(() => parseCliArgs(['-c', configFile({ upstreams: 'http://a:1' })], {})).toThrow(
      /"upstreams" must be an array of URLs/,
    );
  });

  it('names bad values, unknown flags, a missing upstream and a bad config file', () => {
    expect(() => parseCliArgs(['--nope'], {})).toThrow("Unknown option '--nope'");
    expect(() => parseCliArgs(['-u', 'http://a:1', '--port', 'x'], {})).toThrow(
      '--port must be a whole number >= 0, got "x"',
    );
    expect(() => parseCliArgs([], {})).toThrow(/no upstream; give --upstream/);
    expect(() => parseCliArgs(['--simulate', '-u', 'http://a:1'], {})).toThrow(
      /--simulate runs its own upstream/,
    );
    expect(() => parseCliArgs(['-c', join(folder, 'missing.json')], {})).toThrow(/cannot be read: ENOENT/);
    expect(() => parseCliArgs(['-c', configFile('{bad')], {})).toThrow(/is not valid JSON/);
    expect(() => parseCliArgs(['-c', configFile('[]')], {})).toThrow(/must hold a JSON object/);
  });
});

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

describe('bulwark-gateway', () => {
  it('--simulate serves any Ollama client through the gateway, never prints a key, stops on SIGTERM', async () => {
    const started = spawn(process.execPath, ['--import', 'tsx', cli, '--simulate', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BULWARK_GATEWAY_API_KEYS: 'cli-secret-key' },
    });
    child = started;
    let output = '';
    started.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 45_000);
      started.stdout?.on('data', (data: Buffer) => {
        output += data.toString();
        // Both start-up lines, which may arrive in separate chunks.
        const match = /Bulwark gateway listening on (http:\/\/\S+)/.exec(output);
        if (match && /live page: /.test(output)) {
          clearTimeout(timer);
          resolve(match[1] as string);
        }
      });
      started.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });
    expect(output).toMatch(/live page: http:\/\/127\.0\.0\.1:\d+\/_bulwark\//);
    const ollama = new Ollama({ host: url, headers: { Authorization: 'Bearer cli-secret-key' } });
    expect((await ollama.list()).models.map((model) => model.name)).toContain('llama3.2:latest');
    await expect(new Ollama({ host: url }).list()).rejects.toMatchObject({ status_code: 401 });
    started.kill('SIGTERM');
    const [code] = await once(started, 'exit');
    expect(code).toBe(0);
    expect(output).not.toContain('cli-secret-key');
  }, 60_000);

  it('routes over every --upstream given: both simulators answer calls', async () => {
    const sims = [await startOllamaSim(), await startOllamaSim()];
    try {
      const run = spawn(
        process.execPath,
        ['--import', 'tsx', cli, '-u', sims[0]?.url ?? '', '-u', sims[1]?.url ?? '', '--port', '0'],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OTEL_METRICS_EXPORTER: 'none' } },
      );
      child = run;
      let output = '';
      run.stderr?.on('data', (data: Buffer) => {
        output += data.toString();
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 45_000);
        run.stdout?.on('data', (data: Buffer) => {
          output += data.toString();
          const match = /Bulwark gateway listening on (http:\/\/\S+) -> (.*)\n/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1] as string);
          }
        });
        run.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      expect(output).toContain(`-> ${sims[0]?.url}, ${sims[1]?.url}`);
      const ollama = new Ollama({ host: url });
      for (let index = 0; index < 20; index++) {
        expect((await ollama.generate({ model: 'llama3.2', prompt: 'x' })).done).toBe(true);
      }
      // Equal loads: routing draws two hosts at random, so twenty calls all on one host would be a bug.
      const counts = sims.map(
        (sim) => sim.requests.filter((record) => record.route === '/api/generate').length,
      );
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts[1]).toBeGreaterThan(0);
      expect((counts[0] ?? 0) + (counts[1] ?? 0)).toBe(20);
      run.kill('SIGTERM');
      const [code] = await once(run, 'exit');
      expect(code).toBe(0);
    } finally {
      await Promise.all(sims.map((sim) => sim.close()));
    }
  }, 60_000);
});
