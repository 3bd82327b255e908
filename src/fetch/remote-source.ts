// A RangeSource over a URL, read through the robust range fetcher (retries, checks). It keeps the
// bytes read from the start of the file (the GGUF header is read from there, growing), so reading
// the header costs a few requests and the download can store those bytes instead of fetching them
// again.
import type { RangeSource } from '../gguf/source.ts';
import { ContentRangeError, FetchError, HttpStatusError, RangeNotSupportedError, RetriesExhaustedError } from './errors.ts';
import { fetchContext, fetchRange, type FetchContext } from './range.ts';
import { retryPolicy, type RetryPolicy } from './retry.ts';

/** Bytes asked for by the first request: most GGUF headers without a big vocabulary fit. */
export const FIRST_READ_BYTES = 256 * 1024;

export interface RemoteSource extends RangeSource {
  readonly ctx: FetchContext;
  /** The bytes [0, n) read so far from the start of the file. */
  prefix(): Uint8Array;
}

export interface RemoteSourceOptions {
  fetch?: typeof fetch;
  init?: RequestInit;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** A context to share (the download's), instead of a new one. */
  ctx?: FetchContext;
}

export function remoteSource(url: string, opts: RemoteSourceOptions = {}): RemoteSource {
  const ctx = opts.ctx ?? fetchContext(url, retryPolicy(opts.retry), {
    ...(opts.fetch && { fetch: opts.fetch }), init: opts.init, signal: opts.signal,
  });
  let prefix = new Uint8Array(0);

  const append = (bytes: Uint8Array) => {
    const grown = new Uint8Array(prefix.length + bytes.length);
    grown.set(prefix);
    grown.set(bytes, prefix.length);
    prefix = grown;
  };

  const size = async (): Promise<number> => {
    if (!ctx.identity) append(await fetchRange(ctx, 0, FIRST_READ_BYTES, true)); // sets ctx.identity
    return ctx.identity!.size;
  };

  return {
    name: url,
    ctx,
    prefix: () => prefix,
    size,
    read: async (offset: number, length: number) => {
      const total = await size();
      const end = Math.min(total, offset + length);
      if (end <= offset) return new Uint8Array(0);
      if (end <= prefix.length) return prefix.subarray(offset, end);
      const bytes = await fetchRange(ctx, offset, end - offset);
      if (offset === prefix.length) append(bytes);
      return bytes;
    },
  };
}

/** Thrown when a server cannot serve the byte ranges the reader needs. `cause` is the range
 *  fetcher's named error (src/fetch/errors.ts); `status` the HTTP status that decided it. */
export class RangeRequestError extends Error {
  override name = 'RangeRequestError';
  constructor(message: string, readonly url: string, readonly status?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A source over an http(s) URL, read with `Range` requests through the robust range fetcher
 *  (retries with backoff, checked answers). A server that answers 200 with the whole body (ignoring
 *  Range) is refused: it would make every header read download the file. */
export function urlSource(url: string, init: RequestInit = {}): RangeSource {
  const src = remoteSource(url, { init });
  const wrap = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => {
    if (!(e instanceof FetchError)) throw e;
    const decisive = e instanceof RetriesExhaustedError ? e.cause : e;
    const status = decisive instanceof HttpStatusError ? decisive.status
      : decisive instanceof RangeNotSupportedError ? 200
      : decisive instanceof ContentRangeError ? 206 : undefined;
    throw new RangeRequestError(e.message, url, status, { cause: e });
  });
  return { name: url, size: () => wrap(src.size()), read: (offset, length) => wrap(src.read(offset, length)) };
}
