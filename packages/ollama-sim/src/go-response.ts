// Node's HTTP server announces a persistent connection with `Connection: keep-alive` on every
// HTTP/1.1 response; Go's net/http sends no Connection header there (HTTP/1.1 is persistent by
// default). Node has no option to leave the header out while keeping the connection open: setting
// the header ourselves would only change its value, and `shouldKeepAlive = false` closes the
// socket. So the status line and headers Node has just serialised are edited before they leave:
// `writeHead` (which `write` and `end` also reach through the implicit header) stores them in
// `_header`, sent with the first body bytes.
import { type IncomingMessage, ServerResponse } from 'node:http';

const KEEP_ALIVE_LINE = '\r\nConnection: keep-alive\r\n';

interface StoredHeader {
  _header?: string | null;
}

/** A ServerResponse without Node's `Connection: keep-alive` on HTTP/1.1, as Go answers. */
export class GoServerResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  override writeHead(...args: unknown[]): this {
    (super.writeHead as (...rest: unknown[]) => this).apply(this, args);
    const stored = this as unknown as StoredHeader;
    const header = stored._header;
    if (typeof header === 'string' && this.req.httpVersionMinor >= 1) {
      const at = header.indexOf(KEEP_ALIVE_LINE);
      if (at !== -1) stored._header = header.slice(0, at + 2) + header.slice(at + KEEP_ALIVE_LINE.length);
    }
    return this;
  }
}
