#!/usr/bin/env node
// bulwark-gateway: the gateway as a process in front of one or several Ollama servers.
import { CLI_HELP, type CliRequest, parseCliArgs } from './cli-options.js';
import { startGateway } from './start-gateway.js';
import type { Gateway } from './types.js';

async function main(): Promise<void> {
  let request: CliRequest;
  try {
    request = parseCliArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\nRun with --help for usage.\n`);
    process.exitCode = 2;
    return;
  }
  if (request.help) {
    process.stdout.write(CLI_HELP);
    return;
  }
  let simulator: { url: string; close(): Promise<void> } | undefined;
  let gateway: Gateway;
  try {
    let upstreams = request.options.upstreams;
    if (request.simulate) {
      // The simulator is loaded only when asked for.
      const { startOllamaSim } = await import('@bulwark/ollama-sim');
      simulator = await startOllamaSim({ tokenDelayMs: 40, loadMs: 1_500, numParallel: 2 });
      upstreams = [simulator.url];
      process.stdout.write(`Ollama simulator (embedded) listening on ${simulator.url}\n`);
    }
    gateway = await startGateway({ ...request.options, upstreams });
    process.stdout.write(`Bulwark gateway listening on ${gateway.url} -> ${upstreams?.join(', ')}\n`);
    process.stdout.write(`live page: ${gateway.url}/_bulwark/\n`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await simulator?.close();
    process.exitCode = 1;
    return;
  }
  const stop = (signal: NodeJS.Signals) => {
    process.stdout.write(`\n${signal}: closing\n`);
    void Promise.all([gateway.close(), simulator?.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
