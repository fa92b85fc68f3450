import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startOllamaSim } from './server.js';
import type { OllamaSim } from './types.js';

let sim: OllamaSim;
afterEach(async () => {
  await sim?.close();
});

/** Sends a request with exactly these headers (fetch forbids setting Host). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: sim.host, port: sim.port, method, path, headers, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('Host and Origin checks', () => {
  it('refuses a non-local Host on a loopback bind with 403, and accepts local ones', async () => {
    sim = await startOllamaSim();
    const refused = await send('GET', '/api/tags', { Host: 'evil.example:11434' });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe('');
    for (const host of [
      `127.0.0.1:${sim.port}`,
      'localhost',
      'box.local',
      'api.internal:80',
      'app.localhost',
      '10.1.2.3',
      '192.168.0.9:11434',
      '[::1]:11434',
    ]) {
      expect((await send('GET', '/api/tags', { Host: host })).status, host).toBe(200);
    }
    expect((await send('GET', '/api/tags', { Host: '8.8.8.8' })).status).toBe(403);
    // A local name answers an OPTIONS request itself.
    expect((await send('OPTIONS', '/api/tags', { Host: 'localhost' })).status).toBe(204);
  });

  it('does not check the Host header when listening on every interface', async () => {
    sim = await startOllamaSim({ host: '0.0.0.0' });
    expect((await send('GET', '/api/tags', { Host: 'ollama.example.com' })).status).toBe(200);
  });

  it('refuses a disallowed Origin with 403, and allows the default origins with Access-Control-Allow-Origin', async () => {
    sim = await startOllamaSim();
    const host = `127.0.0.1:${sim.port}`;
    const refused = await send('GET', '/api/tags', { Host: host, Origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    for (const origin of [
      'http://localhost:3000',
      'https://127.0.0.1:8443',
      'http://0.0.0.0',
      'app://desktop',
      'vscode-webview://abc',
      'chrome-extension://abcdef',
    ]) {
      const allowed = await send('GET', '/api/tags', { Host: host, Origin: origin });
      expect(allowed.status, origin).toBe(200);
      expect(allowed.headers['access-control-allow-origin'], origin).toBe(origin);
      expect(allowed.headers.vary).toBe('Origin');
    }
    // The server's own origin is not a cross-origin request.
    const same = await send('GET', '/api/tags', { Host: host, Origin: `http://${host}` });
    expect(same.status).toBe(200);
    expect(same.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers an OPTIONS preflight from an allowed origin with 204 and the allowed methods and headers', async () => {
    sim = await startOllamaSim();
    const preflight = await send('OPTIONS', '/api/chat', {
      Host: `127.0.0.1:${sim.port}`,
      Origin: 'http://localhost:5173',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type,authorization',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.body).toBe('');
    expect(preflight.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(preflight.headers['access-control-allow-methods']).toBe('GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS');
    expect(preflight.headers['access-control-allow-headers']).toContain('Authorization,Content-Type');
    expect(preflight.headers['access-control-max-age']).toBe('43200');
    const refused = await send('OPTIONS', '/api/chat', {
      Host: `127.0.0.1:${sim.port}`,
      Origin: 'https://evil.example',
    });
    expect(refused.status).toBe(403);
  });
});
