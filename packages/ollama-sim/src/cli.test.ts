import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Ollama } from 'ollama';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI_HELP, parseCliArgs } from './cli-options.js';

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

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

async function startCli(args: string[]): Promise<{ process: ChildProcess; url: string }> {
  const started = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  let output = '';
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
  return { process: started, url };
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

  it('prints help and exits 0; exits 2 on an unknown flag and 1 on a bad value', async () => {
    const help = spawn(process.execPath, ['--import', 'tsx', cli, '--help'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    help.stdout?.on('data', (data: Buffer) => {
      text += data.toString();
    });
    const [helpCode] = await once(help, 'exit');
    expect(helpCode).toBe(0);
    expect(text).toContain('Usage: bulwark-ollama-sim');
    const unknown = spawn(process.execPath, ['--import', 'tsx', cli, '--nope'], { stdio: 'ignore' });
    const [unknownCode] = await once(unknown, 'exit');
    expect(unknownCode).toBe(2);
    const bad = spawn(process.execPath, ['--import', 'tsx', cli, '--max-queue=-3'], {
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
