// Byte-range sources: where GGUF bytes come from. The reader asks only for the ranges it needs,
// so a header of a multi-gigabyte file costs a few small reads.
import { ContentRangeError, FetchError, HttpStatusError, RangeNotSupportedError, RetriesExhaustedError } from '../fetch/errors.ts';
import { remoteSource } from '../fetch/remote-source.ts';

export interface RangeSource {
  /** For messages: a path, URL or label. */
  readonly name: string;
  /** Total bytes, when known. */
  size(): Promise<number | undefined>;
  /** Bytes [offset, offset + length). Returns fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases what the source holds open (a file handle); reading again reopens it. */
  close?(): Promise<void>;
}

/** A source over bytes already in memory (tests, the factory, a whole file in a Blob's buffer). */
export function bytesSource(bytes: Uint8Array, name = 'bytes'): RangeSource {
  return {
    name,
    size: async () => bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

/** A source over a Blob or File: reads slice by slice, never the whole blob. */
export function blobSource(blob: Blob, name = 'blob'): RangeSource {
  return {
    name,
    size: async () => blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
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
