import { InvalidOptionError, ManualClock } from '@bulwark/core';
import { Ollama } from '@bulwark/ollama';
import { startOllamaSim } from '@bulwark/ollama-sim';
import { describe, expect, it } from 'vitest';
import { memoryTokenStore } from './memory-token-store.js';
import { TokenLimitError } from './token-limit-error.js';
import { tokenRateLimit } from './token-rate-limit-policy.js';

const usage = (prompt: number, output: number) => ({ prompt_eval_count: prompt, eval_count: output });

describe('tokenRateLimit()', () => {
  it('reserves num_predict, corrects to the reported counts, and refuses once the window is full', async () => {
    const clock = new ManualClock();
    const policy = tokenRateLimit({ tokensPerWindow: 1_000, store: memoryTokenStore({ clock }) });
    const seen: string[] = [];
    policy.onReserved(({ tokens }) => seen.push(`reserved ${tokens}`));
    policy.onSettled(({ reserved, used }) => seen.push(`settled ${reserved} → ${used}`));
    const request = { options: { num_predict: 300 } };
    await policy.execute(() => usage(100, 150), { attributes: { request } });
    await policy.execute(() => usage(100, 300), { attributes: { request } });
    expect(seen).toEqual(['reserved 300', 'settled 300 → 250', 'reserved 300', 'settled 300 → 400']);
    // 650 used: a third reservation of 300 still fits, a fourth does not.
    await policy.execute(() => usage(50, 50), { attributes: { request } });
    let ran = false;
    const error = await policy
      .execute(
        () => {
          ran = true;
        },
        { attributes: { request } },
      )
      .catch((caught: unknown) => caught);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(TokenLimitError);
    expect((error as TokenLimitError).code).toBe('ERR_BULWARK_TOKEN_LIMIT');
    expect((error as TokenLimitError).retryable).toBe(true);
    // The first charge (250) leaves the window at 60 s; then 750 - 250 + 300 fits.
    expect((error as TokenLimitError).retryAfterMs).toBe(60_000);
    await clock.advanceAsync(60_000);
    await expect(policy.execute(() => usage(1, 1), { attributes: { request } })).resolves.toEqual(
      usage(1, 1),
    );
  });

  it('uses defaultReservation without num_predict, keeps keys apart, and charges a failed call its reservation', async () => {
    const policy = tokenRateLimit({ key: 'model', tokensPerWindow: 100, defaultReservation: 60 });
    await policy.execute(() => ({}), { attributes: { model: 'a' } });
    await expect(policy.execute(() => ({}), { attributes: { model: 'a' } })).rejects.toBeInstanceOf(
      TokenLimitError,
    );
    await expect(policy.execute(() => 'b', { attributes: { model: 'b' } })).resolves.toBe('b');
    const free = tokenRateLimit({ tokensPerWindow: 100, defaultReservation: 60, usage: () => 0 });
    await free.execute(() => 'used nothing');
    await expect(free.execute(() => 'fits again')).resolves.toBe('fits again');
    // A failed call may have made the server work: it keeps its reservation.
    await expect(free.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(free.execute(() => 'no room')).rejects.toBeInstanceOf(TokenLimitError);
  });

  it('holds to within one call of tokens over a window against the simulator', async () => {
    const sim = await startOllamaSim({ models: [{ name: 'llama3.2', replyTokens: [20, 80] }] });
    const limit = 2_000;
    const policy = tokenRateLimit({ tokensPerWindow: limit, windowMs: 60_000, defaultReservation: 64 });
    let used = 0;
    let biggest = 0;
    policy.onSettled(({ used: tokens }) => {
      used += tokens;
      biggest = Math.max(biggest, tokens);
    });
    const ollama = new Ollama({ host: sim.url, policy });
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: `question ${i}` }] });
      } catch (error) {
        if (!(error instanceof TokenLimitError)) throw error;
        refused++;
      }
    }
    await ollama.close();
    await sim.close();
    expect(refused).toBeGreaterThan(0);
    expect(used).toBeGreaterThan(limit - biggest);
    expect(used).toBeLessThanOrEqual(limit + biggest);
  });

  it.each([
    [{}, 'tokensPerWindow'],
    [{ tokensPerWindow: 0 }, 'tokensPerWindow'],
    [{ tokensPerWindow: 10, windowMs: -5 }, 'windowMs'],
    [{ tokensPerWindow: 10, store: {} }, 'store'],
    [{ tokensPerWindow: 10, perMinute: 5 }, 'perMinute'],
  ])('rejects %j naming the option', (options, option) => {
    expect(() => tokenRateLimit(options as never)).toThrowError(InvalidOptionError);
    expect(() => tokenRateLimit(options as never)).toThrowError(new RegExp(`"${option}"`));
  });
});
