/** The longest server message kept for an error, in characters. */
const MAX_MESSAGE_CHARS = 200;

/**
 * The server's own error text from an error body, for `ResponseError.serverMessage` and messages:
 * `{"error":"…"}` (Ollama), `{"error":{"message":"…"}}` (OpenAI) or `{"message":"…"}` as the
 * server wrote it; else the start of the text, HTML tags and runs of white space collapsed, cut at
 * 200 characters. `undefined` for an empty body.
 */
export function serverMessage(body: string | Uint8Array, contentType?: string | null): string | undefined {
  const text = (
    typeof body === 'string' ? body : new TextDecoder().decode(body.subarray(0, 64 * 1024))
  ).trim();
  if (text === '') return undefined;
  if (contentType?.includes('json') || text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
      if (typeof parsed.error === 'string') return parsed.error;
      const nested = (parsed.error as { message?: unknown } | null | undefined)?.message;
      if (typeof nested === 'string') return nested;
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all: read it as text
    }
  }
  return cut(
    text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

function cut(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS - 3)}...` : text;
}
