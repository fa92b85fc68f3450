import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError } from '@bulwark/core';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Ollama } from './ollama.js';

// The first bytes of a PNG file, and bytes that are not valid UTF-8 on their own.
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x80]);

let sim: OllamaSim;
let ollama: Ollama;
let folder: string;

beforeAll(async () => {
  sim = await startOllamaSim({ host: '127.0.0.1', port: 0 });
  // No load-only request before each call: the simulator's log holds just the call with its images.
  ollama = new Ollama({ host: sim.url, modelState: false });
  folder = await mkdtemp(join(tmpdir(), 'bulwark-images-'));
});

afterAll(async () => {
  await ollama.close();
  await sim.close();
  await rm(folder, { recursive: true, force: true });
});

afterEach(() => sim.clearRequests());

/** The images the server received, decoded from base64 as the server does. */
function received(select: (body: Record<string, unknown>) => unknown): Uint8Array[] {
  expect(sim.requests).toHaveLength(1);
  const images = select(sim.requests[0]?.body as Record<string, unknown>);
  expect(Array.isArray(images)).toBe(true);
  return (images as unknown[]).map((image) => {
    expect(typeof image).toBe('string');
    expect(image).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    return new Uint8Array(Buffer.from(image as string, 'base64'));
  });
}

describe('images', () => {
  it('sends Uint8Array images of a chat message as base64', async () => {
    const answer = await ollama.chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'What is this?', images: [PNG] }],
    });
    expect(answer.done).toBe(true);
    const images = received((body) => (body.messages as Array<{ images?: unknown }>)[0]?.images);
    expect(images).toEqual([PNG]);
  });

  it('passes base64 strings as they are', async () => {
    const base64 = Buffer.from(PNG).toString('base64');
    await ollama.generate({ model: 'llama3.2', prompt: 'Describe', images: [base64] });
    expect(sim.requests[0]?.body).toMatchObject({ images: [base64] });
    expect(received((body) => body.images)).toEqual([PNG]);
  });

  it('reads a file path and sends the file base64, in a streamed call too', async () => {
    const path = join(folder, 'picture.png');
    await writeFile(path, PNG);
    const parts = [];
    for await (const part of await ollama.chat({
      model: 'llama3.2',
      stream: true,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'user', content: 'What is this?', images: [path, PNG] },
      ],
    })) {
      parts.push(part);
    }
    expect(parts.at(-1)?.done).toBe(true);
    const images = received((body) => (body.messages as Array<{ images?: unknown }>)[1]?.images);
    expect(images).toEqual([PNG, PNG]);
    const body = sim.requests[0]?.body as { messages: Array<{ images?: unknown }> } | undefined;
    expect(body?.messages[0]).not.toHaveProperty('images');
  });

  it('refuses a string that is neither base64 nor a file, naming it, before any request', async () => {
    const missing = join(folder, 'no-such-file.png');
    const error = await ollama
      .generate({ model: 'llama3.2', prompt: 'Describe', images: [missing] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain('ollama.generate(): images[0]');
    expect((error as Error).message).toContain('no-such-file.png');
    expect(sim.requests).toHaveLength(0);
  });
});
