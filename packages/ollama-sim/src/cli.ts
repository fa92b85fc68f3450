#!/usr/bin/env node
// bulwark-ollama-sim: the simulator as a process any Ollama client can be pointed at.
import { CLI_HELP, logLine, parseCliArgs } from './cli-options.js';
import { startOllamaSim } from './server.js';
import type { OllamaSim } from './types.js';

async function main(): Promise<void> {
  let request: ReturnType<typeof parseCliArgs>;
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
  let sim: OllamaSim;
  try {
    sim = await startOllamaSim({ ...request.options, requestLogLimit: request.log ? 1000 : 0 });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`Ollama simulator listening on ${sim.url}\n`);
  process.stdout.write(`models: ${sim.modelNames().join(', ')}\n`);
  if (sim.faults.length > 0) process.stdout.write(`faults: ${sim.faults.length}\n`);
  let logTimer: NodeJS.Timeout | undefined;
  if (request.log) {
    let reported = 0;
    logTimer = setInterval(() => {
      for (const record of sim.requests) {
        if (record.id <= reported || record.outcome === 'pending') continue;
        reported = record.id;
        process.stderr.write(`${logLine(record)}\n`);
      }
    }, 200);
  }
  const stop = (signal: NodeJS.Signals) => {
    process.stdout.write(`\n${signal}: closing\n`);
    if (logTimer) clearInterval(logTimer);
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
