// Byte-range sources: where GGUF bytes come from. The reader asks only for the ranges it needs,
// so a header of a multi-gigabyte file costs a few small reads.

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

/** Thrown when a server cannot serve the byte ranges the reader needs. */
export class RangeRequestError extends Error {
  override name = 'RangeRequestError';
  constructor(message: string, readonly url: string, readonly status?: number) {
    super(message);
  }
}

/** A source over an http(s) URL, read with `Range` requests. A server that answers 200 with the
 *  whole body (ignoring Range) is refused: it would make every header read download the file. */
export function urlSource(url: string, init: RequestInit = {}): RangeSource {
  let total: number | undefined;
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    if (length === 0) return new Uint8Array(0);
    const res = await fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), Range: `bytes=${offset}-${offset + length - 1}` },
    });
    if (res.status === 416) return new Uint8Array(0); // range starts past the end
    if (res.status === 200) {
      await res.body?.cancel();
      throw new RangeRequestError(`${url} ignored the Range header (status 200): the server must support byte ranges`, url, 200);
    }
    if (res.status !== 206) throw new RangeRequestError(`${url} answered ${res.status} ${res.statusText} to a range request`, url, res.status);
    const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(res.headers.get('Content-Range') ?? '');
    if (!m || Number(m[1]) !== offset) {
      throw new RangeRequestError(`${url} answered bytes ${offset}-${offset + length - 1} with Content-Range "${res.headers.get('Content-Range')}"`, url, 206);
    }
    if (m[3] !== '*') total = Number(m[3]);
    return new Uint8Array(await res.arrayBuffer());
  };
  return {
    name: url,
    size: async () => {
      if (total === undefined) await read(0, 1);
      return total;
    },
    read,
  };
}
