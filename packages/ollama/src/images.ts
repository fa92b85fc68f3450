import { readFile, stat } from 'node:fs/promises';
import { InvalidOptionError } from '@bulwark/core';

/** An image as a request may give it: bytes, base64 text, or (in Node) the path of a file. */
export type ImageInput = Uint8Array | string;

/** Base64 text as Ollama's server decodes it: the standard alphabet, padded; line breaks ignored. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBase64(text: string): boolean {
  const compact = text.replace(/[\r\n]/g, '');
  return compact.length % 4 === 0 && BASE64.test(compact);
}

async function isFile(path: string): Promise<boolean> {
  // A base64 image is rarely a path; only short strings are worth a look at the file system.
  if (path.length === 0 || path.length > 4096 || path.includes('\0')) return false;
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * One image as Ollama expects it, base64 text: bytes are encoded; a string naming an existing file
 * is read and encoded (as the official client does in Node); any other string is sent as it is
 * and must be base64 (Ollama answers 400 otherwise, so it is refused here, before any request).
 */
export async function encodeImage(image: ImageInput, where: string): Promise<string> {
  if (image instanceof Uint8Array)
    return Buffer.from(image.buffer, image.byteOffset, image.byteLength).toString('base64');
  if (typeof image !== 'string') {
    throw new InvalidOptionError(
      `${where} must be a Uint8Array, base64 text or a file path, got ${typeof image}`,
      'images',
    );
  }
  if (await isFile(image)) return (await readFile(image)).toString('base64');
  if (!isBase64(image)) {
    const shown = image.length > 60 ? `...${image.slice(-57)}` : image;
    throw new InvalidOptionError(
      `${where} is neither base64 text nor the path of an existing file: ${JSON.stringify(shown)}`,
      'images',
    );
  }
  return image;
}

async function encodeList(images: unknown, where: string): Promise<string[] | undefined> {
  if (images === undefined) return undefined;
  if (!Array.isArray(images)) {
    throw new InvalidOptionError(`${where} must be an array of images, got ${typeof images}`, 'images');
  }
  return Promise.all(images.map((image, index) => encodeImage(image, `${where}[${index}]`)));
}

/**
 * The request with every image (`images`, and `messages[].images`) as base64 text. Returns the
 * request itself when it has no image to encode.
 */
export async function encodeRequestImages<T>(operation: string, request: T): Promise<T> {
  const body = request as { images?: unknown; messages?: unknown };
  let changed: Record<string, unknown> | undefined;
  if (body.images !== undefined) {
    changed = { ...body, images: await encodeList(body.images, `ollama.${operation}(): images`) };
  }
  if (Array.isArray(body.messages) && body.messages.some((message) => message?.images !== undefined)) {
    const messages = await Promise.all(
      body.messages.map(async (message: { images?: unknown } | null, index: number) =>
        message?.images === undefined
          ? message
          : {
              ...message,
              images: await encodeList(message.images, `ollama.${operation}(): messages[${index}].images`),
            },
      ),
    );
    changed = { ...(changed ?? body), messages };
  }
  return (changed ?? request) as T;
}
