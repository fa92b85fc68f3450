import { connect, type Socket } from 'node:net';

/**
 * A load generator that costs the client as little as possible, to measure the simulator itself:
 * keep-alive HTTP/1.1 over plain sockets, one request in flight per connection, a prebuilt request,
 * and a response parser that only finds where each answer ends (Content-Length or the chunked
 * terminator) and counts its newlines.
 */
export interface WireClient {
  /** Sends the prebuilt request on every connection, again and again, until `durationMs` passed. */
  run(durationMs: number): Promise<{ answers: number; lines: number; seconds: number }>;
  close(): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('\r\n0\r\n\r\n');

interface Connection {
  socket: Socket;
  pending: Buffer | undefined;
  /** Body bytes still expected (Content-Length), or -1 for a chunked body, or undefined before the head. */
  remaining: number | undefined;
  /** The chunked body's last bytes, to find its terminator across reads. */
  tail: Buffer;
}

export async function createWireClient(
  url: string,
  options: { path: string; body: unknown; connections: number },
): Promise<WireClient> {
  const { hostname, port } = new URL(url);
  const payload = JSON.stringify(options.body);
  const request = Buffer.from(
    `POST ${options.path} HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: keep-alive\r\n\r\n${payload}`,
  );
  let answers = 0;
  let lines = 0;
  let running = false;
  let end = 0;
  let active = 0;
  let finished: (() => void) | undefined;

  const countLines = (data: Buffer, from: number, to: number) => {
    for (let i = data.indexOf(10, from); i !== -1 && i < to; i = data.indexOf(10, i + 1)) lines++;
  };

  const answered = (connection: Connection) => {
    answers++;
    connection.remaining = undefined;
    if (running && performance.now() < end) {
      connection.socket.write(request);
    } else if (--active === 0) {
      finished?.();
    }
  };

  const onData = (connection: Connection, chunk: Buffer) => {
    let data = connection.pending ? Buffer.concat([connection.pending, chunk]) : chunk;
    connection.pending = undefined;
    while (data.length > 0) {
      if (connection.remaining === undefined) {
        const headEnd = data.indexOf(HEAD_END);
        if (headEnd === -1) {
          connection.pending = data;
          return;
        }
        const head = data.subarray(0, headEnd).toString('latin1').toLowerCase();
        const length = /content-length: *(\d+)/.exec(head);
        connection.remaining = length ? Number(length[1]) : -1;
        connection.tail = Buffer.alloc(0);
        data = data.subarray(headEnd + HEAD_END.length);
        if (connection.remaining === 0) answered(connection);
        continue;
      }
      if (connection.remaining >= 0) {
        const take = Math.min(connection.remaining, data.length);
        countLines(data, 0, take);
        connection.remaining -= take;
        data = data.subarray(take);
        if (connection.remaining === 0) answered(connection);
        continue;
      }
      // chunked: the body ends with an empty last chunk; the sizes' own CRLFs are not NDJSON lines,
      // so count only the newlines inside the JSON lines (each line ends with "}\n").
      const window = Buffer.concat([connection.tail, data]);
      const stop = window.indexOf(CHUNKED_END);
      const upto = stop === -1 ? window.length : stop + CHUNKED_END.length;
      for (
        let i = window.indexOf(10, connection.tail.length);
        i !== -1 && i < upto;
        i = window.indexOf(10, i + 1)
      )
        if (window[i - 1] === 0x7d) lines++;
      if (stop === -1) {
        connection.tail = window.subarray(Math.max(0, window.length - CHUNKED_END.length));
        return;
      }
      data = window.subarray(upto);
      answered(connection);
    }
  };

  const connections = await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<Connection>((resolve, reject) => {
          const socket = connect({ host: hostname, port: Number(port), noDelay: true });
          const connection: Connection = {
            socket,
            pending: undefined,
            remaining: undefined,
            tail: Buffer.alloc(0),
          };
          socket.once('connect', () => resolve(connection));
          socket.once('error', reject);
          socket.on('data', (chunk: Buffer) => onData(connection, chunk));
        }),
    ),
  );

  return {
    async run(durationMs) {
      answers = 0;
      lines = 0;
      running = true;
      const started = performance.now();
      end = started + durationMs;
      active = connections.length;
      const done = new Promise<void>((resolve) => {
        finished = resolve;
      });
      for (const connection of connections) connection.socket.write(request);
      await done;
      running = false;
      return { answers, lines, seconds: (performance.now() - started) / 1000 };
    },
    close() {
      for (const connection of connections) connection.socket.destroy();
    },
  };
}
