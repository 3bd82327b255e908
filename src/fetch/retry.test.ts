import { describe, expect, it } from 'vitest';
import { backoffMs, parseRetryAfter, retryPolicy, sleep } from './retry.ts';

describe('retry policy', () => {
  it('backs off exponentially with full jitter, capped', () => {
    const top = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffMs(top, n))).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = retryPolicy({ random: () => 0 });
    expect(backoffMs(bottom, 3)).toBe(0);
  });

  it('parses Retry-After as seconds or an HTTP-date', () => {
    const now = Date.UTC(2025, 0, 1, 12, 0, 0);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 7 ', now)).toBe(7000);
    expect(parseRetryAfter(new Date(now + 30_000).toUTCString(), now)).toBe(30_000);
    expect(parseRetryAfter(new Date(now - 30_000).toUTCString(), now)).toBe(0); // a date in the past: now
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });

  it('sleep rejects with the abort reason', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
