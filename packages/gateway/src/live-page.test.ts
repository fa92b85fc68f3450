// The live page in Debian's chromium (headless, through playwright-core, no browser download):
// it shows the upstream, its warm models, and a breaker opening when the upstream fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OllamaSim, startOllamaSim } from '@bulwark/ollama-sim';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveSnapshot } from './live-state.js';
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
let other: OllamaSim | undefined;
let gateway: Gateway | undefined;
let profile: string | undefined;
afterEach(async () => {
  await gateway?.close();
  await sim?.close();
  await other?.close();
  other = undefined;
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** One streamed chat through the gateway, and how it ended for the client. */
async function streamedChat(url: string): Promise<'ok' | 'refused' | 'cut'> {
  let response: Response;
  try {
    response = await fetch(`${url}/api/chat`, {
      method: 'POST',
      body: JSON.stringify({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'Why is the sky blue?' }],
        options: { num_predict: 12 },
      }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    return 'refused';
  }
  // Headers reached the client: the call is committed from here on.
  if (response.status !== 200) {
    await response.body?.cancel();
    return 'refused';
  }
  try {
    const text = await response.text();
    return text.includes('"done":true') ? 'ok' : 'cut';
  } catch {
    return 'cut';
  }
}

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

  it('shows an upstream reset mid-run as ejected within 2 s, while no call that had not started its answer fails', async () => {
    sim = await startOllamaSim({ tokenDelayMs: 15 });
    other = await startOllamaSim({ tokenDelayMs: 15 });
    const doomed = other;
    gateway = await startGateway({
      upstreams: [sim.url, doomed.url],
      port: 0,
      env: {},
      pageIntervalMs: 100,
      refreshMs: 300,
    });
    const url = gateway.url;
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
      await page.goto(`${url}/_bulwark/`);
      await page.locator(`tr[data-upstream="${sim.url}"][data-state="up"][data-health="healthy"]`).waitFor();
      await page
        .locator(`tr[data-upstream="${doomed.url}"][data-state="up"][data-health="healthy"]`)
        .waitFor();

      // Six clients stream chats in a loop through the reset.
      let running = true;
      const outcomes: Array<{ outcome: 'ok' | 'refused' | 'cut'; startedAfterReset: boolean }> = [];
      let resetAt = Number.POSITIVE_INFINITY;
      const workers = Array.from({ length: 6 }, async () => {
        while (running) {
          const startedAt = Date.now();
          const outcome = await streamedChat(url);
          outcomes.push({ outcome, startedAfterReset: startedAt > resetAt });
        }
      });
      // Both hosts carry traffic before the reset.
      const deadline = Date.now() + 10_000;
      const chats = (each: OllamaSim) =>
        each.requests.filter((record) => record.route === '/api/chat').length;
      while (Math.min(chats(sim), chats(doomed)) < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(chats(sim)).toBeGreaterThanOrEqual(3);
      expect(chats(doomed)).toBeGreaterThanOrEqual(3);

      resetAt = Date.now();
      await doomed.close();
      const ejected = page.locator(`tr[data-upstream="${doomed.url}"][data-health="ejected"]`);
      await ejected.waitFor({ timeout: 5_000 });
      const shownAfterMs = Date.now() - resetAt;
      expect(shownAfterMs).toBeLessThan(2_000);
      expect(await ejected.textContent()).toMatch(/ejected \d/);
      await page.locator(`tr[data-upstream="${sim.url}"][data-health="healthy"]`).waitFor();
      const screenshot = join(output, 'live-page-upstream-ejected.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`live page screenshot: ${screenshot} (ejection shown ${shownAfterMs} ms after the reset)`);

      // Traffic goes on to the host left.
      const before = outcomes.length;
      while (outcomes.length < before + 12 && Date.now() < deadline + 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      running = false;
      await Promise.all(workers);

      // A call whose answer had not started never fails: it failed over. Only streams the reset
      // cut mid-answer may end early, as they would against the server directly.
      expect(outcomes.filter((entry) => entry.outcome === 'refused')).toEqual([]);
      const after = outcomes.filter((entry) => entry.startedAfterReset);
      expect(after.length).toBeGreaterThanOrEqual(12);
      expect(after.every((entry) => entry.outcome === 'ok')).toBe(true);
      const state = (await (await fetch(`${url}/_bulwark/state`)).json()) as LiveSnapshot;
      expect(state.upstreams.map((upstream) => [upstream.url, upstream.health])).toEqual([
        [sim.url, 'healthy'],
        [doomed.url, 'ejected'],
      ]);
      expect(state.breakers).toEqual([expect.objectContaining({ key: 'llama3.2', state: 'closed' })]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
