import { describe, expect, it } from 'vitest';
import { serverMessage } from './server-message.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('serverMessage', () => {
  it("reads Ollama's, OpenAI's and a plain message field, from text or bytes", () => {
    expect(serverMessage('{"error":"model \'x\' not found"}', 'application/json')).toBe(
      "model 'x' not found",
    );
    expect(serverMessage(bytes('{"error":{"message":"slow down","type":"rate"}}'), 'application/json')).toBe(
      'slow down',
    );
    expect(serverMessage('{"message":"busy"}', null)).toBe('busy');
    // JSON without a JSON content type, as a proxy may send it
    expect(serverMessage('  {"error":"busy"}\n', 'text/plain')).toBe('busy');
  });

  it('reads an HTML or text body as short plain text', () => {
    const page = `<html><head><title>502 Bad Gateway</title></head><body><h1>502   Bad Gateway</h1>${'<p>x</p>'.repeat(200)}</body></html>`;
    const message = serverMessage(page, 'text/html') as string;
    expect(message.startsWith('502 Bad Gateway 502 Bad Gateway')).toBe(true);
    expect(message).not.toContain('<');
    expect(message.length).toBeLessThanOrEqual(200);
    expect(message.endsWith('...')).toBe(true);
    expect(serverMessage(bytes('{"error": truncated'), 'application/json')).toBe('{"error": truncated');
  });

  it('is undefined for an empty body', () => {
    expect(serverMessage('', 'application/json')).toBeUndefined();
    expect(serverMessage(bytes('  \n'), undefined)).toBeUndefined();
  });
});
