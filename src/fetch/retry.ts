// Retry policy: exponential backoff with full jitter, Retry-After honoured, a cap on how long a
// server may make us wait. Times in milliseconds.
import { abortReason } from './errors.ts';

export interface RetryPolicy {
  /** Failed attempts in a row (attempts that received no new byte) before giving up. */
  maxAttempts: number;
  /** Attempts of one range in all, progress or not: bounds a server that always drops mid-body. */
  maxTotalAttempts: number;
  /** Attempts of the very first request that end in a TypeError before we call it CORS/offline. */
  maxAttemptsBeforeFirstResponse: number;
  /** Backoff before retry n (1-based) is uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this gives ServerBusyError instead of a wait. */
  maxRetryAfterMs: number;
  /** No body byte for this long aborts the request as stalled (then retried). */
  stallTimeoutMs: number;
  /** Sleep and randomness, injectable so tests run fast and reproducibly. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  maxTotalAttempts: 32,
  maxAttemptsBeforeFirstResponse: 3,
  baseDelayMs: 250,
  maxDelayMs: 15_000,
  maxRetryAfterMs: 120_000,
  stallTimeoutMs: 30_000,
  sleep,
  random: Math.random,
};

export function retryPolicy(over: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY, ...over };
}

/** Delay before retry number `failures` (1-based), without Retry-After. */
export function backoffMs(policy: RetryPolicy, failures: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(policy.random() * ceiling);
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date; undefined if absent or
 *  unparsable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[A-Za-z]/.test(v)) return undefined; // not an HTTP-date (Date.parse would read '-5' as a year)
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
