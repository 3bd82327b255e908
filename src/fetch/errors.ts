// Named errors of the range fetcher. Each says what went wrong and what to do; `code` is stable
// (for the UI and for tests), `retryable` tells the retry loop whether another attempt can help.

export type FetchErrorCode =
  | 'range-ignored' // 200 with the whole body instead of 206
  | 'bad-content-range' // 206 whose Content-Range is not the range asked for
  | 'headers-not-exposed' // 206 without Content-Range (CORS: Access-Control-Expose-Headers)
  | 'file-changed' // ETag, Last-Modified or length differ from what we stored
  | 'cors-or-network' // fetch() threw before any response (browser: CORS refusal, or offline)
  | 'network' // connection refused, reset, dropped mid-body, stalled
  | 'truncated' // body ended before the bytes asked for
  | 'http-status' // an HTTP status that is not 206
  | 'retries-exhausted' // a retryable failure that kept failing
  | 'server-busy'; // Retry-After longer than we are willing to wait

/** Base class of every fetcher error. */
export class FetchError extends Error {
  override name = 'FetchError';
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    readonly url: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server answered 200 with the whole file: it does not serve byte ranges. */
export class RangeNotSupportedError extends FetchError {
  override name = 'RangeNotSupportedError';
  constructor(url: string) {
    super('range-ignored', `${url} ignored the Range header (it answered 200 with the whole file instead of 206): ` +
      'WebMoE needs a server that serves byte ranges (Hugging Face resolve/ links, most CDNs and static file servers do); ' +
      'serve the file from one of those', url);
  }
}

/** A 206 whose Content-Range names other bytes than the ones asked for (a broken server or proxy). */
export class ContentRangeError extends FetchError {
  override name = 'ContentRangeError';
  constructor(url: string, asked: string, got: string | null) {
    super('bad-content-range', `${url} answered a request for bytes ${asked} with Content-Range ${got === null ? '(none)' : `"${got}"`}: ` +
      'the server or a proxy on the way returns the wrong bytes; those bytes were not used', url, true);
  }
}

/** A cross-origin 206 whose Content-Range is hidden from the page (CORS). */
export class HeadersNotExposedError extends FetchError {
  override name = 'HeadersNotExposedError';
  constructor(url: string) {
    super('headers-not-exposed', `${url} answered 206 but the page cannot see its Content-Range header: a cross-origin server must list ` +
      'Content-Range (and ETag) in Access-Control-Expose-Headers', url);
  }
}

/** The remote file is not the one we started with: mixing its bytes with stored ones would corrupt
 *  the model. */
export class FileChangedError extends FetchError {
  override name = 'FileChangedError';
  constructor(url: string, readonly what: string) {
    super('file-changed', `${url} changed on the server (${what}): the bytes stored so far belong to the old file. ` +
      'Open the model again to start over with the new file (stored chunks of the old one are discarded)', url);
  }
}

/** fetch() threw a TypeError before any response. In a browser that is what a CORS refusal looks like
 *  (the page is not told why); it is also what an unreachable host looks like. */
export class CorsError extends FetchError {
  override name = 'CorsError';
  constructor(url: string, origin: string, cause: unknown) {
    super('cors-or-network', `fetching ${url} failed before any response (${String(cause)}). In a browser this most often means the ` +
      `server refuses cross-origin requests from ${origin}: it must answer with Access-Control-Allow-Origin (and expose Content-Range ` +
      'and ETag via Access-Control-Expose-Headers). It can also mean the network is down or the host name does not resolve; ' +
      "the browser's console says which", url, false, { cause });
  }
}

/** A network failure: refused, reset, dropped mid-body, or stalled. Retried. */
export class NetworkError extends FetchError {
  override name = 'NetworkError';
  /** `beforeResponse`: fetch() itself threw (no status seen), which in a browser may be CORS. */
  constructor(url: string, what: string, cause?: unknown, readonly beforeResponse = false) {
    super('network', `${url}: ${what}`, url, true, { cause });
  }
}

/** The body ended before all the bytes asked for arrived. Retried from where it stopped. */
export class TruncatedBodyError extends FetchError {
  override name = 'TruncatedBodyError';
  constructor(url: string, readonly asked: number, readonly got: number) {
    super('truncated', `${url} sent ${got} of the ${asked} bytes asked for, then ended the body`, url, true);
  }
}

/** An HTTP status other than 206. 408, 429 and 5xx are retried; the others say what to do. */
export class HttpStatusError extends FetchError {
  override name = 'HttpStatusError';
  constructor(url: string, readonly status: number, statusText: string, readonly retryAfterMs?: number) {
    super('http-status', `${url} answered ${status} ${statusText}${hint(status)}`, url, status === 408 || status === 429 || status >= 500);
  }
}

function hint(status: number): string {
  if (status === 401 || status === 403) return ': the file needs credentials (a gated Hugging Face model needs its license accepted and an access token)';
  if (status === 404 || status === 410) return ': no file at this URL (check it; a Hugging Face link to a file is .../resolve/main/NAME.gguf)';
  if (status === 429) return ': too many requests';
  if (status >= 500) return ': a server error';
  return '';
}

/** A retryable failure kept happening. `cause` is the last one. */
export class RetriesExhaustedError extends FetchError {
  override name = 'RetriesExhaustedError';
  constructor(url: string, readonly attempts: number, cause: unknown) {
    super('retries-exhausted', `${url}: gave up after ${attempts} attempts; last failure: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}. ` +
      'The download is resumable: open the model again later', url, false, { cause });
  }
}

/** The server asked us (Retry-After) to wait longer than the policy allows. */
export class ServerBusyError extends FetchError {
  override name = 'ServerBusyError';
  constructor(url: string, readonly retryAfterMs: number) {
    super('server-busy', `${url} asked to retry after ${Math.round(retryAfterMs / 1000)} s (Retry-After), longer than WebMoE waits: ` +
      'the download is resumable, open the model again later', url);
  }
}

/** The error an aborted signal carries, or a standard AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** The whole file does not have the SHA-256 the caller gave: it is not the file expected (or the
 *  server changed it without changing ETag, Last-Modified or length). Its chunks are deleted. */
export class FileHashMismatchError extends Error {
  override name = 'FileHashMismatchError';
  readonly code = 'sha256-mismatch';
  constructor(readonly url: string, readonly expected: string, readonly actual: string) {
    super(`${url} has SHA-256 ${actual}, not the ${expected} it was opened with: it is not the expected file. ` +
      'Its stored chunks were deleted; check the URL and the checksum');
  }
}
