import { buildConnector, errors } from 'undici';

/**
 * A connector whose connect budget is Bulwark's own timer: when `connectMs` passes before the socket
 * is connected (DNS, TCP and TLS), the attempt fails with undici's `ConnectTimeoutError`, which the
 * transport reports as a `connect` timeout. undici's own connect timer (about 1 s granularity) stays
 * as a backstop `backstopMs` later. Only connecting counts: a request waiting in the pool for a free
 * socket does not. The timer is unref'd.
 */
export function timedConnector(connectMs: number, backstopMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: backstopMs });
  if (connectMs === Number.POSITIVE_INFINITY) return connect;
  return (options, callback) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      // The attempt still pending ends at undici's backstop; a socket that connects late is closed.
      callback(
        new errors.ConnectTimeoutError(`Connect timeout after ${connectMs} ms (${options.hostname})`),
        null,
      );
    }, connectMs);
    timer.unref();
    connect(options, (error, connected) => {
      if (settled) {
        connected?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error) callback(error, null);
      else callback(null, connected as NonNullable<typeof connected>);
    });
  };
}
