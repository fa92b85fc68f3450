// The live page in Debian's chromium (headless, through playwright-core, no browser download):
// it shows the upstream, its warm models, and a breaker opening when the upstream fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from './start-gateway.js';
import type { Gateway } from './types.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

let sim: OllamaSim | undefined;
let gateway: Gateway | undefined;
let profile: string | undefined;
afterEach(async () => {
  await gateway?.close();
  await sim?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('the live page at /_bulwark/', () => {
  it('shows the upstream, warm models and a breaker opening, live, on a phone-sized screen', async () => {
    sim = await startOllamaSim({ faults: [{ route: '/api/chat', model: 'llama3.2', status: 500 }] });
    gateway = await startGateway({
      upstream: sim.url,
      port: 0,
      env: {},
      maxRetries: 0,
      pageIntervalMs: 200,
      refreshMs: 300,
    });
    profile = mkdtempSync(join(tmpdir(), 'bulwark-gateway-chromium-'));
    const output = mkdtempSync(join(tmpdir(), 'bulwark-gateway-page-'));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 390, height: 844 },
      timeout: 15_000,
    });
    try {
      const page = browser.pages()[0] ?? (await browser.newPage());
      page.setDefaultTimeout(8_000);
      const external: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(gateway?.url ?? '')) external.push(request.url());
      });
      await page.goto(`${gateway.url}/_bulwark/`);
      await page.locator('#status', { hasText: 'live' }).waitFor();
      await page.locator(`tr[data-upstream="${sim.url}"][data-state="up"]`).waitFor();
      expect(await page.locator('tr[data-breaker]').count()).toBe(0);

      // A good call warms qwen3; /api/ps shows it on the page.
      const warm = await fetch(`${gateway.url}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'qwen3', prompt: 'hi', stream: false }),
      });
      expect(warm.status).toBe(200);
      await page.locator(`tr[data-upstream="${sim.url}"]`, { hasText: 'qwen3:latest' }).waitFor();

      // Five failures open llama3.2's breaker: the page turns it to open without a reload.
      const body = JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
      for (let index = 0; index < 5; index++) {
        const failed = await fetch(`${gateway.url}/api/chat`, { method: 'POST', body });
        expect(failed.status).toBe(500);
        await failed.text();
      }
      const breaker = page.locator('tr[data-breaker="llama3.2"][data-state="open"]');
      await breaker.waitFor();
      expect(await breaker.textContent()).toContain('open');
      const shed = await fetch(`${gateway.url}/api/chat`, { method: 'POST', body });
      expect(shed.status).toBe(503);
      await page.locator('#events tr', { hasText: 'breaker' }).waitFor();

      const fitsWidth = await page.evaluate(
        'document.documentElement.scrollWidth <= document.documentElement.clientWidth',
      );
      expect(fitsWidth).toBe(true);
      expect(external).toEqual([]);
      const screenshot = join(output, 'live-page-breaker-open.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`live page screenshot: ${screenshot}`);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
