import { Agent, request } from 'undici';

/** The baseline a careful user writes by hand: undici.request and a line reader. */
export function createRawClient(url: string, connections = 256) {
  const dispatcher = new Agent({ connections, headersTimeout: 0, bodyTimeout: 0 });
  const decoder = new TextDecoder();

  /** Reads NDJSON lines from a body and calls `onLine` with each parsed object. */
  async function readLines(body: AsyncIterable<Buffer>, onLine: (value: Record<string, unknown>) => void) {
    let rest: Buffer | undefined;
    for await (const chunk of body) {
      const data = rest ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let newline = data.indexOf(10, start); newline !== -1; newline = data.indexOf(10, start)) {
        if (newline > start) onLine(JSON.parse(decoder.decode(data.subarray(start, newline))));
        start = newline + 1;
      }
      rest = start < data.length ? data.subarray(start) : undefined;
    }
    if (rest && rest.length > 0) onLine(JSON.parse(decoder.decode(rest)));
  }

  return {
    /** A chat asked as a stream and assembled, as Bulwark's client does. */
    async chat(body: Record<string, unknown>): Promise<string> {
      const response = await request(`${url}/api/chat`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      let content = '';
      await readLines(response.body, (line) => {
        content += (line.message as { content?: string } | undefined)?.content ?? '';
      });
      return content;
    },
    /** Counts the chunks of a streamed chat. */
    async streamChunks(body: Record<string, unknown>): Promise<number> {
      const response = await request(`${url}/api/chat`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      let chunks = 0;
      await readLines(response.body, () => {
        chunks++;
      });
      return chunks;
    },
    close: () => dispatcher.destroy(),
  };
}
