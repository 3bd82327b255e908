// One byte range of a remote file, fetched robustly: every response is checked (status, Content-Range,
// file identity, body length), a stalled body is aborted, and a failed attempt is retried from the
// first byte not yet received, so a connection dropped mid-chunk costs only what it had not sent.
import type { FileIdentity } from '../storage/manifest.ts';
import {
  abortReason, ContentRangeError, CorsError, FetchError, FileChangedError, HeadersNotExposedError, HttpStatusError,
  NetworkError, RangeNotSupportedError, RetriesExhaustedError, ServerBusyError, TruncatedBodyError,
} from './errors.ts';
import { backoffMs, parseRetryAfter, type RetryPolicy } from './retry.ts';

export interface RetryInfo {
  /** Attempts of this range so far (1 = the first failed). */
  attempt: number;
  delayMs: number;
  error: FetchError;
  offset: number;
  length: number;
}

/** What every request of one remote file shares. */
export interface FetchContext {
  url: string;
  fetch: typeof fetch;
  /** Extra request options (an Authorization header for gated files). */
  init?: RequestInit;
  policy: RetryPolicy;
  /** The file as first seen; every response is checked against it. The first response sets it. */
  identity?: FileIdentity;
  /** Whether any HTTP response came back: before one, a TypeError may be a CORS refusal. */
  sawResponse: boolean;
  signal?: AbortSignal;
  /** Body bytes as they arrive (retried and wasted bytes included): the network rate. */
  onBytes?: (n: number) => void;
  onRetry?: (info: RetryInfo) => void;
}

export function fetchContext(url: string, policy: RetryPolicy, over: Partial<FetchContext> = {}): FetchContext {
  return { url, fetch: (...a) => globalThis.fetch(...a), policy, sawResponse: false, ...over };
}

const inBrowser = typeof document !== 'undefined' || 'WorkerGlobalScope' in globalThis;

/** Bytes [offset, offset + length). With `allowShort`, a file shorter than offset + length gives
 *  fewer bytes (only when the size is not yet known: the first read of a file). */
export async function fetchRange(ctx: FetchContext, offset: number, length: number, allowShort = false): Promise<Uint8Array> {
  const target = new Uint8Array(length);
  const state = { got: 0, end: length };
  let failures = 0; // attempts in a row that brought no new byte
  let attempts = 0;
  for (;;) {
    ctx.signal?.throwIfAborted();
    const before = state.got;
    try {
      await attempt(ctx, offset, target, state, allowShort);
      return state.end === length ? target : target.subarray(0, state.end);
    } catch (e) {
      if (ctx.signal?.aborted) throw abortReason(ctx.signal);
      if (!(e instanceof FetchError) || !e.retryable) throw e;
      attempts++;
      failures = state.got > before ? 0 : failures + 1;
      if (inBrowser && !ctx.sawResponse && e instanceof NetworkError && e.beforeResponse && attempts >= ctx.policy.maxAttemptsBeforeFirstResponse) {
        throw new CorsError(ctx.url, globalThis.location?.origin ?? 'this page', e.cause);
      }
      if (failures >= ctx.policy.maxAttempts || attempts >= ctx.policy.maxTotalAttempts) throw new RetriesExhaustedError(ctx.url, attempts, e);
      let delayMs = backoffMs(ctx.policy, Math.max(1, failures));
      if (e instanceof HttpStatusError && e.retryAfterMs !== undefined) {
        if (e.retryAfterMs > ctx.policy.maxRetryAfterMs) throw new ServerBusyError(ctx.url, e.retryAfterMs);
        delayMs = e.retryAfterMs;
      }
      ctx.onRetry?.({ attempt: attempts, delayMs, error: e, offset, length });
      await ctx.policy.sleep(delayMs, ctx.signal);
    }
  }
}

/** One request for the bytes of `target` not yet received (from state.got to state.end). */
async function attempt(ctx: FetchContext, offset: number, target: Uint8Array, state: { got: number; end: number }, allowShort: boolean): Promise<void> {
  const first = offset + state.got;
  const last = offset + state.end - 1; // inclusive, as HTTP counts
  const ac = new AbortController();
  const onAbort = () => ac.abort(abortReason(ctx.signal!));
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(new NetworkError(ctx.url, `no byte for ${ctx.policy.stallTimeoutMs} ms: the transfer stalled`)), ctx.policy.stallTimeoutMs);
  };
  try {
    arm();
    let res: Response;
    try {
      const headers = new Headers(ctx.init?.headers);
      headers.set('Range', `bytes=${first}-${last}`);
      // no-store: the bytes go to IndexedDB; a second copy in the HTTP cache would double the disk used.
      res = await ctx.fetch(ctx.url, { ...ctx.init, headers, signal: ac.signal, cache: 'no-store' });
    } catch (e) {
      if (ac.signal.aborted) throw ac.signal.reason;
      throw new NetworkError(ctx.url, `request failed (${e instanceof Error ? e.message : String(e)})`, e, true);
    }
    ctx.sawResponse = true;
    const expectEnd = checkResponse(ctx, res, first, last, allowShort);
    if (expectEnd < last) state.end = expectEnd - offset + 1; // a short file, on its first read
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        arm();
        if (state.got + value.length > state.end) {
          throw new ContentRangeError(ctx.url, `${first}-${last}`, `a body longer than the ${last - first + 1} bytes asked for`);
        }
        target.set(value, state.got);
        state.got += value.length;
        ctx.onBytes?.(value.length);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      if (ac.signal.aborted) throw ac.signal.reason;
      if (e instanceof FetchError) throw e;
      throw new NetworkError(ctx.url, `connection dropped after ${state.got} bytes of a ${target.length}-byte range (${e instanceof Error ? e.message : String(e)})`, e);
    }
    if (state.got < state.end) throw new TruncatedBodyError(ctx.url, last - first + 1, state.got - (first - offset));
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/** Checks status and headers; returns the last byte the body will hold (inclusive). Throws, after
 *  cancelling the body, for anything but a 206 of the asked range of the same file. */
function checkResponse(ctx: FetchContext, res: Response, first: number, last: number, allowShort: boolean): number {
  const fail = (e: Error): never => {
    res.body?.cancel().catch(() => {});
    throw e;
  };
  const seen: Partial<FileIdentity> = {
    etag: res.headers.get('ETag')?.replace(/^W\//, '') ?? undefined,
    lastModified: res.headers.get('Last-Modified') ?? undefined,
  };
  if (res.status === 200) {
    // With validators that differ, the file was replaced; otherwise the server ignores Range.
    const changed = ctx.identity && identityChange(ctx.identity, seen);
    return fail(changed ? new FileChangedError(ctx.url, changed) : new RangeNotSupportedError(ctx.url));
  }
  if (res.status === 416 && ctx.identity && first < ctx.identity.size) {
    return fail(new FileChangedError(ctx.url, `byte ${first} is now past its end (416)`));
  }
  if (res.status !== 206) {
    return fail(new HttpStatusError(ctx.url, res.status, res.statusText, parseRetryAfter(res.headers.get('Retry-After'))));
  }
  const cr = res.headers.get('Content-Range');
  let end = last;
  if (cr === null) {
    // Cross-origin responses hide Content-Range unless exposed. A body of exactly the asked length
    // from a file whose size we already know is still usable; a first read is not.
    const len = Number(res.headers.get('Content-Length'));
    if (!ctx.identity || len !== last - first + 1) return fail(new HeadersNotExposedError(ctx.url));
  } else {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr.trim());
    if (m && m[3] !== '*') seen.size = Number(m[3]);
    const short = allowShort && !ctx.identity && seen.size !== undefined && seen.size - 1 < last;
    if (short) end = seen.size! - 1;
    if (!m || Number(m[1]) !== first || Number(m[2]) !== end) {
      // A different total is a different file, whatever range came back.
      const changed = ctx.identity && identityChange(ctx.identity, seen);
      return fail(changed ? new FileChangedError(ctx.url, changed) : new ContentRangeError(ctx.url, `${first}-${last}`, cr));
    }
  }
  if (ctx.identity) {
    const changed = identityChange(ctx.identity, seen);
    if (changed) return fail(new FileChangedError(ctx.url, changed));
  } else {
    if (seen.size === undefined) return fail(new HeadersNotExposedError(ctx.url));
    ctx.identity = { size: seen.size, etag: seen.etag, lastModified: seen.lastModified };
  }
  return end;
}

/** How `seen` differs from `known`, in words, or undefined when nothing shows a change. A validator
 *  missing on either side (a server that sends none, a header CORS hides) proves nothing. */
export function identityChange(known: FileIdentity, seen: Partial<FileIdentity>): string | undefined {
  if (seen.size !== undefined && seen.size !== known.size) return `length ${known.size} → ${seen.size} bytes`;
  if (known.etag && seen.etag && known.etag !== seen.etag) return `ETag ${known.etag} → ${seen.etag}`;
  if (known.lastModified && seen.lastModified && known.lastModified !== seen.lastModified) {
    return `Last-Modified ${known.lastModified} → ${seen.lastModified}`;
  }
  return undefined;
}
