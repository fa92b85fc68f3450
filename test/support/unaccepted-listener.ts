import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A listening socket on 127.0.0.1 that never accepts, with its backlog full: a new connection's SYN
 * is dropped, so connecting hangs as it does to a host that does not answer. The listener lives in
 * a child process that is stopped (SIGSTOP) once it listens, so nothing accepts; the backlog is
 * then filled with connections that the kernel completes on its own.
 */
export interface UnacceptedListener {
  readonly port: number;
  close(): Promise<void>;
}

const LISTENER = `
const server = require('node:net').createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(String(server.address().port) + '\\n');
});
`;

function tryConnect(port: number, waitMs: number): Promise<{ socket: Socket; connected: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    const timer = setTimeout(() => resolve({ socket, connected: false }), waitMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ socket, connected: true });
    });
  });
}

export async function startUnacceptedListener(): Promise<UnacceptedListener> {
  const child: ChildProcess = spawn(process.execPath, ['-e', LISTENER], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('exit', (code) => reject(new Error(`the listener exited early (${code})`)));
  });
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  // The kernel completes up to backlog + 1 connections by itself; the next one hangs.
  for (let i = 0; i < 16; i++) {
    const { socket, connected } = await tryConnect(port, 300);
    fillers.push(socket);
    if (!connected) break;
    if (i === 15) throw new Error('the backlog never filled');
  }
  return {
    port,
    async close() {
      for (const socket of fillers) socket.destroy();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
