import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertBuilt } from './built.js';

export interface SimProcess {
  url: string;
  setFaults(faults: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** The simulator most suites measure against: a short model, and a long one for streams. */
export const BENCH_SIM = {
  models: ['llama3.2', { name: 'long', replyTokens: 1_000_000 }],
  numParallel: 2_048,
  maxQueue: 100_000,
  requestLogLimit: 0,
};

/**
 * Starts the simulator in a child process and waits until it listens. Stops first when the
 * packages would be measured from their sources (see built.ts).
 */
export async function startSimProcess(options: Record<string, unknown> = {}): Promise<SimProcess> {
  assertBuilt();
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./sim-child.ts', import.meta.url)),
    [JSON.stringify(options)],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  let nextId = 0;
  const pending = new Map<number, () => void>();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the simulator process did not start within 30 s')),
      30_000,
    );
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the simulator process exited with ${code}`)));
    child.on('message', (message: { type: string; url?: string; id?: number }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.url as string);
      } else if (message.type === 'done') {
        pending.get(message.id as number)?.();
        pending.delete(message.id as number);
      }
    });
  });
  const call = (message: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...message, id });
    });
  return {
    url,
    setFaults: (faults) => call({ type: 'setFaults', faults }),
    async close() {
      if (child.exitCode !== null) return;
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await Promise.race([call({ type: 'close' }), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}
