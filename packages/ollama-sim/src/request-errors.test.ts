import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOllamaSim } from './server.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
beforeAll(async () => {
  sim = await startOllamaSim();
});
afterAll(async () => {
  await sim.close();
});

async function post(path: string, body: string | object | undefined) {
  const response = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    length: response.headers.get('content-length'),
    chunked: response.headers.get('transfer-encoding') === 'chunked',
    text,
  };
}

const user = [{ role: 'user', content: 'hi' }];

describe('errors before output', () => {
  it.each([
    ['empty body', '/api/chat', undefined, 400, 'missing request body'],
    ['whitespace body', '/api/generate', ' \n ', 400, 'missing request body'],
    ['not JSON', '/api/chat', 'hello', 400, "invalid character 'h' looking for beginning of value"],
    ['cut short', '/api/chat', '{"model":"llama3.2"', 400, 'unexpected EOF'],
    [
      'bad key',
      '/api/chat',
      '{model:1}',
      400,
      "invalid character 'm' looking for beginning of object key string",
    ],
    ['missing colon', '/api/embed', '{"model" 1}', 400, "invalid character '1' after object key"],
    [
      'bad separator',
      '/api/chat',
      '{"model":"x" "a":1}',
      400,
      `invalid character '"' after object key:value pair`,
    ],
    [
      'bad literal',
      '/api/chat',
      '{"stream":tru}',
      400,
      "invalid character '}' in literal true (expecting 'e')",
    ],
    ['control character', '/api/chat', '{"model":"a\nb"}', 400, "invalid character '\\n' in string literal"],
    [
      'wrong type',
      '/api/chat',
      { model: 1 },
      400,
      'json: cannot unmarshal number into Go struct field ChatRequest.model of type string',
    ],
    [
      'wrong nested type',
      '/api/chat',
      { model: 'llama3.2', messages: [{ role: 'user', content: 5 }] },
      400,
      'json: cannot unmarshal number into Go struct field ChatRequest.messages.content of type string',
    ],
    [
      'message not an object',
      '/api/chat',
      { model: 'llama3.2', messages: ['hi'] },
      400,
      'json: cannot unmarshal string into Go struct field ChatRequest.messages of type api.Alias',
    ],
    [
      'options not an object',
      '/api/generate',
      { model: 'llama3.2', options: [] },
      400,
      'json: cannot unmarshal array into Go struct field GenerateRequest.options of type map[string]interface {}',
    ],
    [
      'fractional int',
      '/api/chat',
      { model: 'llama3.2', top_logprobs: 1.5 },
      400,
      'json: cannot unmarshal number 1.5 into Go struct field ChatRequest.top_logprobs of type int',
    ],
    [
      'top-level array',
      '/api/chat',
      '[1]',
      400,
      'json: cannot unmarshal array into Go value of type api.ChatRequest',
    ],
    [
      'keep_alive without unit',
      '/api/chat',
      { model: 'llama3.2', keep_alive: '10' },
      400,
      'time: missing unit in duration "10"',
    ],
    [
      'keep_alive of a bad type',
      '/api/generate',
      { model: 'llama3.2', keep_alive: true },
      400,
      "Unsupported type: 'bool'",
    ],
    [
      'invalid think',
      '/api/chat',
      { model: 'qwen3', messages: user, think: 'x' },
      400,
      'invalid think value: "x" (must be "high", "medium", "low", "max", true, or false)',
    ],
    [
      'top_logprobs out of range',
      '/api/chat',
      { model: 'llama3.2', messages: user, top_logprobs: 21 },
      400,
      'top_logprobs must be between 0 and 20',
    ],
    ['chat without model', '/api/chat', { messages: user }, 400, 'model is required'],
    ['generate without model', '/api/generate', { prompt: 'x' }, 404, "model '' not found"],
    ['embeddings without model', '/api/embeddings', { prompt: 'x' }, 400, 'model is required'],
    ['invalid model name', '/api/chat', { model: 'bad name!', messages: user }, 400, 'invalid model name'],
    ['chat, unknown model', '/api/chat', { model: 'nope', messages: user }, 404, "model 'nope' not found"],
    [
      'generate, unknown model',
      '/api/generate',
      { model: 'nope:7b', prompt: 'x' },
      404,
      "model 'nope:7b' not found",
    ],
    [
      'embed, unknown model',
      '/api/embed',
      { model: 'nope', input: 'x' },
      404,
      'model "nope" not found, try pulling it first',
    ],
    [
      'embeddings, unknown model',
      '/api/embeddings',
      { model: 'nope', prompt: 'x' },
      404,
      'model "nope" not found, try pulling it first',
    ],
    [
      'thinking unsupported',
      '/api/chat',
      { model: 'llama3.2', messages: user, think: true },
      400,
      '"llama3.2" does not support thinking',
    ],
    [
      'tools unsupported',
      '/api/chat',
      { model: 'gemma3', messages: user, tools: [{ type: 'function', function: { name: 'f' } }] },
      400,
      'registry.ollama.ai/library/gemma3:latest does not support tools',
    ],
    [
      'chat on an embedding model',
      '/api/chat',
      { model: 'nomic-embed-text', messages: user },
      400,
      '"nomic-embed-text" does not support chat',
    ],
    [
      'generate on an embedding model',
      '/api/generate',
      { model: 'nomic-embed-text', prompt: 'x' },
      400,
      '"nomic-embed-text" does not support generate',
    ],
    [
      'insert unsupported',
      '/api/generate',
      { model: 'llama3.2', prompt: 'x', suffix: 'y' },
      400,
      'registry.ollama.ai/library/llama3.2:latest does not support insert',
    ],
    [
      'raw with system',
      '/api/generate',
      { model: 'llama3.2', prompt: 'x', raw: true, system: 's' },
      400,
      'raw mode does not support template, system, or context',
    ],
    [
      'option of a wrong type',
      '/api/chat',
      { model: 'llama3.2', messages: user, options: { num_predict: 'x' } },
      500,
      'option "num_predict" must be of type integer',
    ],
  ])('%s', async (_name, path, body, status, message) => {
    const answer = await post(path, body);
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.text)).toEqual({ error: message });
    expect(answer.text.endsWith('\n')).toBe(false);
    expect(answer.length).toBe(String(Buffer.byteLength(answer.text)));
  });

  it.each([
    ['/api/chat', { model: 'llama3.2', messages: user, format: 'xml' }],
    ['/api/generate', { model: 'llama3.2', prompt: 'hi', format: 'xml' }],
  ])(
    "sends a streaming handler's error before output as application/json, chunked (%s)",
    async (path, body) => {
      // Go's streamResponse: c.JSON under the stream's own Content-Type, then a flush.
      const message = 'invalid format: "\\"xml\\""; expected "json" or a valid JSON Schema object';
      const streamed = await post(path, body);
      expect(streamed.status).toBe(500);
      expect(streamed.type).toBe('application/json');
      expect(streamed.length).toBeNull();
      expect(streamed.chunked).toBe(true);
      expect(streamed.text).toBe(JSON.stringify({ error: message }));
      // Without streaming the handler answers with c.JSON itself.
      const single = await post(path, { ...body, stream: false });
      expect(single.status).toBe(500);
      expect(single.type).toBe('application/json; charset=utf-8');
      expect(single.length).toBe(String(Buffer.byteLength(single.text)));
      expect(single.chunked).toBe(false);
      expect(JSON.parse(single.text)).toEqual({ error: message });
    },
  );

  it('sends a create error before output as application/json, chunked, when streaming', async () => {
    const streamed = await post('/api/create', { model: 'new-model' });
    expect(streamed.status).toBe(400);
    expect(streamed.type).toBe('application/json');
    expect(streamed.length).toBeNull();
    expect(streamed.chunked).toBe(true);
    expect(streamed.text).toBe('{"error":"neither \'from\' or \'files\' was specified"}');
  });

  it('ignores what follows a complete JSON object, as Go decoders do', async () => {
    const answer = await post(
      '/api/chat',
      '{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false} trailing',
    );
    expect(answer.status).toBe(200);
  });

  it('matches field names case-insensitively, as Go does', async () => {
    const answer = await post('/api/chat', { Model: 'llama3.2', Messages: user, Stream: false });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).model).toBe('llama3.2');
  });

  it("answers an image that is not valid base64 with 400 and Go's text, and accepts a valid one", async () => {
    const chat = await post('/api/chat', {
      model: 'gemma3',
      messages: [{ role: 'user', content: 'what is this?', images: ['aGk'] }],
    });
    expect(chat.status).toBe(400);
    expect(chat.type).toBe('application/json; charset=utf-8');
    expect(chat.text).toBe('{"error":"illegal base64 data at input byte 0"}');
    const generate = await post('/api/generate', {
      model: 'gemma3',
      prompt: 'what is this?',
      images: ['aGk=', 'data:image/png;base64,aGk='],
    });
    expect(generate.status).toBe(400);
    expect(generate.text).toBe('{"error":"illegal base64 data at input byte 4"}');
    const valid = await post('/api/generate', {
      model: 'gemma3',
      prompt: 'what is this?',
      images: ['aG\nk='],
      stream: false,
    });
    expect(valid.status).toBe(200);
  });
});
