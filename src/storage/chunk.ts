// A stored chunk: one value holding a 64-byte header (where the bytes belong and their SHA-256) and
// the bytes. Written in one atomic store write, it carries its own checksum, so a chunk is either
// whole and verifiable or detected as damaged on read; damaged chunks are never used.
import { equalBytes, sha256, toHex } from './sha256.ts';

export const CHUNK_HEADER_BYTES = 64;
const MAGIC = 0x4b434d57; // "WMCK" little-endian
const FORMAT = 1;

/** A stored chunk failed its checks: dropped by the caller and fetched again. */
export class ChunkCorruptError extends Error {
  override name = 'ChunkCorruptError';
  readonly code = 'chunk-corrupt';
  constructor(readonly key: string, what: string) {
    super(`stored chunk ${key} is damaged (${what}); it is dropped and fetched again`);
  }
}

/** Header + bytes, with the SHA-256 of the bytes computed here. */
export async function encodeChunk(fileOffset: number, bytes: Uint8Array, generation: number): Promise<Uint8Array> {
  const out = new Uint8Array(CHUNK_HEADER_BYTES + bytes.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, FORMAT, true);
  v.setBigUint64(8, BigInt(fileOffset), true); // absolute offset in the file, bytes
  v.setUint32(16, bytes.length, true); // payload bytes (a chunk is at most a few MB)
  v.setUint32(20, generation, true); // the manifest's: a chunk of an earlier download of this URL never passes
  out.set(await sha256(bytes), 24);
  out.set(bytes, CHUNK_HEADER_BYTES);
  return out;
}

/** The chunk's bytes after checking header, place and SHA-256; throws ChunkCorruptError. */
export async function decodeChunk(key: string, record: Uint8Array, fileOffset: number, length: number, generation: number): Promise<Uint8Array> {
  if (record.length < CHUNK_HEADER_BYTES) throw new ChunkCorruptError(key, `${record.length} bytes, shorter than its header`);
  const v = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== FORMAT) throw new ChunkCorruptError(key, 'bad magic or format');
  const at = Number(v.getBigUint64(8, true));
  const n = v.getUint32(16, true);
  if (at !== fileOffset || n !== length || record.length !== CHUNK_HEADER_BYTES + n) {
    throw new ChunkCorruptError(key, `holds ${n} bytes at ${at} in a ${record.length}-byte record, expected ${length} at ${fileOffset}`);
  }
  if (v.getUint32(20, true) !== generation) throw new ChunkCorruptError(key, 'left from an earlier download of another version of the file');
  const bytes = record.subarray(CHUNK_HEADER_BYTES);
  const want = record.subarray(24, 56);
  const got = await sha256(bytes);
  if (!equalBytes(got, want)) throw new ChunkCorruptError(key, `SHA-256 ${toHex(got).slice(0, 16)}… instead of ${toHex(want).slice(0, 16)}…`);
  return bytes;
}
