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
