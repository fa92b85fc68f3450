import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetSnapshot, ModelStatus } from '@bulwark/ollama';

/** A replica process driven over IPC. */
export interface Replica {
  readonly child: ChildProcess;
  /** Store events seen so far (`unavailable bulkhead`, `available breaker`...). */
  readonly events: string[];
  /** Runs `calls` calls at once; resolves with each outcome (`ok` or an error code). */
  run(calls: number, model: string): Promise<string[]>;
  /** Starts `calls` calls and resolves once all hold their slots. */
  hold(calls: number, model: string): Promise<void>;
  /** The client's fleet snapshot, model states, and how many loads it sent. */
  state(): Promise<ReplicaState>;
  close(): Promise<void>;
}

export interface ReplicaState {
  fleet: FleetSnapshot;
  models: ModelStatus[];
  loadStarts: number;
}

export interface ReplicaConfig {
  name: string;
  redisPort: number;
  simUrl: string;
  limit: number;
  leaseMs: number;
  halfOpenAfterMs: number;
  hosts?: string[];
  sharedState?: boolean;
  policy?: boolean;
  consecutiveFailures?: number;
}

export async function startReplica(config: ReplicaConfig): Promise<Replica> {
  const child = fork(fileURLToPath(new URL('./replica.ts', import.meta.url)), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', '--conditions=bulwark-source'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: string[] = [];
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`replica ${config.name} did not start within 60 s`)),
      60_000,
    );
    child.once('exit', (code) => reject(new Error(`replica ${config.name} exited with ${code}`)));
    child.on('message', (message: { type: string; id?: number; event?: string; outcomes?: string[] }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      } else if (message.type === 'event') events.push(message.event as string);
      else {
        pending.get(message.id as number)?.(message.outcomes);
        pending.delete(message.id as number);
      }
    });
  });
  const request = <T>(type: string, calls: number, model: string, timeoutMs = 20_000) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(
        () => reject(new Error(`replica ${config.name}: ${type} took over ${timeoutMs} ms`)),
        timeoutMs,
      );
      pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value as T);
      });
      child.send({ type, id, calls, model });
    });
  return {
    child,
    events,
    run: (calls, model) => request<string[]>('run', calls, model),
    hold: (calls, model) => request<void>('hold', calls, model),
    state: () => request<ReplicaState>('state', 0, ''),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'exit' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
