// A model download with one progress bar for all its layers: bytes, percent, rate and time left.
import { startOllamaSim } from '@bulwark/ollama-sim';
import { createOllama, trackProgress } from 'bulwark';

const sim = process.env.OLLAMA_HOST
  ? undefined
  : await startOllamaSim({ faults: [{ route: '/api/pull', tokenDelayMs: 50 }] });
const ollama = createOllama({ host: process.env.OLLAMA_HOST || sim?.url });

const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
const seconds = (ms: number | undefined) => (ms === undefined ? '--' : `${Math.ceil(ms / 1_000)} s`);
const width = 30;

for await (const progress of trackProgress(await ollama.pull({ model: 'llama3.2', stream: true }))) {
  const filled = Math.round(((progress.percent ?? 0) / 100) * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const rate = progress.bytesPerSecond === undefined ? '--' : `${megabytes(progress.bytesPerSecond)}/s`;
  const line = `${bar} ${(progress.percent ?? 0).toFixed(1).padStart(5)}% ${megabytes(progress.completedBytes)} of ${megabytes(progress.totalBytes)}, ${rate}, ${seconds(progress.etaMs)} left  ${progress.status}`;
  // On a terminal the bar redraws in place; piped, each update is a line.
  if (process.stdout.isTTY) process.stdout.write(`\r${line.padEnd(process.stdout.columns - 1)}`);
  else console.log(line);
}
if (process.stdout.isTTY) process.stdout.write('\n');

await ollama.close();
await sim?.close();
