// GGUF header reader (versions 2 and 3): magic, metadata, tensor infos. It reads only the header's
// bytes from a RangeSource, growing its window as needed, and checks every length and count against
// the bytes that exist before allocating, so a malformed file gives a GGUFError, never a hang,
// a crash or an out-of-memory.
import type { RangeSource } from './source.ts';
import {
  GGMLType, GGUFValueType, TYPE_TRAITS, typeName,
  type GGUFEntry, type GGUFFile, type GGUFScalar, type GGUFTensorInfo, type GGUFValue,
} from './types.ts';

export type GGUFErrorCode =
  | 'bad-magic' | 'unsupported-version' | 'truncated' | 'bad-value-type' | 'bad-count'
  | 'bad-string' | 'duplicate-key' | 'bad-alignment' | 'bad-tensor' | 'unsupported-type' | 'too-large';

/** A malformed, truncated or unsupported GGUF file. `offset` is the byte where it went wrong. */
export class GGUFError extends Error {
  override name = 'GGUFError';
  constructor(readonly code: GGUFErrorCode, message: string, readonly offset?: number, readonly source?: string) {
    super(`${source ? source + ': ' : ''}${message}${offset !== undefined ? ` (at byte ${offset})` : ''}`);
  }
}

const MAGIC = 0x46554747; // "GGUF" little-endian
const GGML_MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;
/** A header larger than this is refused (Llama 3's, with a 128k vocabulary, is ~8 MiB). */
export const MAX_HEADER_BYTES = 512 * 1024 * 1024;
const FIRST_READ = 256 * 1024;

/** Signals that the parse ran past the bytes fetched so far; the caller fetches more and retries. */
class NeedMore {
  constructor(readonly upTo: number) {}
}

// String values are decoded leniently (U+FFFD for bad bytes), as llama.cpp keeps any bytes there;
// keys and tensor names must be valid UTF-8: a replaced byte could make two names one.
// ignoreBOM: a string may begin with U+FEFF (Llama 2's token 30143 is exactly that); keep it.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Synchronous cursor over a prefix of the file. `complete` means the prefix is the whole file;
 *  `fileSize`, when known, bounds counts even while only a prefix has been fetched. */
class Cursor {
  pos = 0;
  private view: DataView;
  constructor(private bytes: Uint8Array, private complete: boolean, private src: string, private fileSize?: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(code: GGUFErrorCode, message: string, at = this.pos): never {
    throw new GGUFError(code, message, at, this.src);
  }

  /** Ensures n more bytes are readable, or reports why they are not. */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end <= this.bytes.length) return;
    if (this.complete) this.fail('truncated', `file ends inside ${what}: needs ${n} bytes, ${this.bytes.length - this.pos} left`);
    if (this.fileSize !== undefined && end > this.fileSize) {
      this.fail('truncated', `file ends inside ${what}: needs ${n} bytes, ${this.fileSize - this.pos} left`);
    }
    if (end > MAX_HEADER_BYTES) this.fail('too-large', `header would exceed ${MAX_HEADER_BYTES} bytes while reading ${what}`);
    throw new NeedMore(end);
  }

  /** Bytes that can exist after the cursor, or Infinity when the file size is unknown. Using the
   *  file size (not just the prefix) refuses a count larger than the file at once, instead of
   *  fetching the whole file first to find out (found by src/gguf/fuzz.test.ts). */
  remainingKnown(): number {
    if (this.complete) return this.bytes.length - this.pos;
    return this.fileSize !== undefined ? this.fileSize - this.pos : Infinity;
  }

  u8(what: string) { this.need(1, what); return this.view.getUint8(this.pos++); }
  i8(what: string) { this.need(1, what); return this.view.getInt8(this.pos++); }
  u16(what: string) { this.need(2, what); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(what: string) { this.need(2, what); const v = this.view.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(what: string) { this.need(4, what); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(what: string) { this.need(4, what); const v = this.view.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(what: string) { this.need(4, what); const v = this.view.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(what: string) { this.need(8, what); const v = this.view.getFloat64(this.pos, true); this.pos += 8; return v; }
  u64(what: string) { this.need(8, what); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v; }
  i64(what: string) { this.need(8, what); const v = this.view.getBigInt64(this.pos, true); this.pos += 8; return v; }

  /** A u64 count or size that must fit in a JS number and in what is left of the file. */
  count(what: string, bytesPerItem: number): number {
    const at = this.pos;
    const n = this.u64(what);
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('bad-count', `${what} is ${n}, too large`, at);
    const v = Number(n);
    if (v * bytesPerItem > this.remainingKnown()) this.fail('bad-count', `${what} is ${v}, more than the file holds`, at);
    if (v * bytesPerItem > MAX_HEADER_BYTES) this.fail('too-large', `${what} is ${v}, beyond the ${MAX_HEADER_BYTES}-byte header limit`, at);
    return v;
  }

  str(what: string, strict = false): string {
    const len = this.count(`length of ${what}`, 1);
    this.need(len, what);
    const bytes = this.bytes.subarray(this.pos, this.pos + len);
    let s: string;
    try {
      s = (strict ? strictDecoder : decoder).decode(bytes);
    } catch {
      this.fail('bad-string', `${what} is not valid UTF-8`);
    }
    this.pos += len;
    return s;
  }
}

const SCALAR_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
  [GGUFValueType.STRING]: 8, // at least its length field
};

function scalar(c: Cursor, type: GGUFValueType, what: string): GGUFScalar {
  switch (type) {
    case GGUFValueType.UINT8: return c.u8(what);
    case GGUFValueType.INT8: return c.i8(what);
    case GGUFValueType.UINT16: return c.u16(what);
    case GGUFValueType.INT16: return c.i16(what);
    case GGUFValueType.UINT32: return c.u32(what);
    case GGUFValueType.INT32: return c.i32(what);
    case GGUFValueType.FLOAT32: return c.f32(what);
    case GGUFValueType.FLOAT64: return c.f64(what);
    case GGUFValueType.UINT64: return c.u64(what);
    case GGUFValueType.INT64: return c.i64(what);
    case GGUFValueType.BOOL: {
      const at = c.pos;
      const b = c.u8(what);
      if (b > 1) c.fail('bad-value-type', `${what} is a bool stored as ${b}`, at);
      return b === 1;
    }
    case GGUFValueType.STRING: return c.str(what);
    default: return c.fail('bad-value-type', `${what} has unknown value type ${type}`);
  }
}

function entry(c: Cursor, key: string): GGUFEntry {
  const at = c.pos;
  const type = c.u32(`type of "${key}"`) as GGUFValueType;
  if (type === GGUFValueType.ARRAY) {
    const itemAt = c.pos;
    const itemType = c.u32(`item type of "${key}"`) as GGUFValueType;
    const size = SCALAR_SIZE[itemType];
    if (size === undefined) c.fail('bad-value-type', `array "${key}" has item type ${itemType} (nested arrays are not GGUF)`, itemAt);
    const n = c.count(`length of array "${key}"`, size);
    // Grown by push, not new Array(n): n can be large while the file is still being fetched, and
    // a huge preallocated array is slow dictionary storage in V8.
    const value: GGUFScalar[] = [];
    for (let i = 0; i < n; i++) value.push(scalar(c, itemType, `"${key}"[${i}]`));
    return { type, itemType, value };
  }
  if (SCALAR_SIZE[type] === undefined) c.fail('bad-value-type', `"${key}" has unknown value type ${type}`, at);
  return { type, value: scalar(c, type, `"${key}"`) };
}

function tensorInfo(c: Cursor, i: number): Omit<GGUFTensorInfo, 'nBytes'> & { at: number } {
  const at = c.pos;
  const name = c.str(`name of tensor ${i}`, true);
  const nDims = c.u32(`dimension count of "${name}"`);
  if (nDims < 1 || nDims > GGML_MAX_DIMS) c.fail('bad-tensor', `tensor "${name}" has ${nDims} dimensions (1 to ${GGML_MAX_DIMS} allowed)`, at);
  const shape: number[] = [];
  let nElements = 1;
  for (let d = 0; d < nDims; d++) {
    const dimAt = c.pos;
    const n = c.u64(`dimension ${d} of "${name}"`);
    if (n < 1n || n > BigInt(Number.MAX_SAFE_INTEGER)) c.fail('bad-tensor', `tensor "${name}" has dimension ${d} = ${n}`, dimAt);
    shape.push(Number(n));
    nElements *= Number(n);
    if (nElements > Number.MAX_SAFE_INTEGER) c.fail('bad-tensor', `tensor "${name}" has too many elements`, dimAt);
  }
  const typeAt = c.pos;
  const type = c.u32(`type of "${name}"`) as GGMLType;
  const traits = TYPE_TRAITS[type];
  if (!traits) c.fail('unsupported-type', `tensor "${name}" has GGML type ${type}, which WebMoE does not know`, typeAt);
  if (shape[0] % traits.blockSize !== 0) {
    c.fail('bad-tensor', `tensor "${name}" (${typeName(type)}) has a row of ${shape[0]} elements, not a multiple of its block size ${traits.blockSize}`, at);
  }
  const offAt = c.pos;
  const off = c.u64(`data offset of "${name}"`);
  if (off > BigInt(Number.MAX_SAFE_INTEGER)) c.fail('bad-tensor', `tensor "${name}" has data offset ${off}`, offAt);
  return { name, shape, type, offset: Number(off), nElements, at };
}

function parse(c: Cursor, fileSize: number | undefined): GGUFFile {
  const magic = c.u32('magic');
  if (magic !== MAGIC) c.fail('bad-magic', 'not a GGUF file (magic bytes are not "GGUF")', 0);
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    c.fail('unsupported-version', `GGUF version ${version} is not supported (only 2 and 3; version 1 files need re-conversion)`, 4);
  }
  // Each tensor info takes at least 8 (name length) + 4 + 8 + 4 + 8 bytes; each entry at least 8 + 4 + 1.
  const nTensors = c.count('tensor count', 32);
  const nKv = c.count('metadata count', 13);

  const metadata = new Map<string, GGUFEntry>();
  for (let i = 0; i < nKv; i++) {
    const at = c.pos;
    const key = c.str(`key of metadata entry ${i}`, true);
    if (metadata.has(key)) c.fail('duplicate-key', `metadata key "${key}" appears twice`, at);
    metadata.set(key, entry(c, key));
  }

  let alignment = DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al) {
    const v = al.value;
    if (al.type !== GGUFValueType.UINT32 || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0) {
      c.fail('bad-alignment', `general.alignment must be a power-of-two uint32, got ${String(v)}`);
    }
    alignment = v;
  }

  const infos = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const t = tensorInfo(c, i);
    if (names.has(t.name)) c.fail('bad-tensor', `tensor name "${t.name}" appears twice`, t.at);
    names.add(t.name);
    if (t.offset % alignment !== 0) c.fail('bad-tensor', `tensor "${t.name}" data offset ${t.offset} is not a multiple of the alignment ${alignment}`, t.at);
    infos.push(t);
  }

  const headerBytes = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GGUFTensorInfo[] = infos.map(({ at, ...t }) => {
    const tr = TYPE_TRAITS[t.type]!;
    const nBytes = (t.nElements / tr.blockSize) * tr.typeSize;
    if (fileSize !== undefined && headerBytes + t.offset + nBytes > fileSize) {
      c.fail('truncated', `tensor "${t.name}" ends at byte ${headerBytes + t.offset + nBytes}, past the end of the file (${fileSize} bytes)`, at);
    }
    return { ...t, nBytes };
  });
  return { version, metadata, tensors, alignment, dataOffset: headerBytes, headerBytes };
}

/** Reads the GGUF header of `source`, fetching only the header's bytes. */
export async function readGGUF(source: RangeSource): Promise<GGUFFile> {
  const fileSize = await source.size();
  let bytes = await source.read(0, Math.min(FIRST_READ, fileSize ?? FIRST_READ));
  for (;;) {
    const complete = fileSize !== undefined ? bytes.length >= fileSize : false;
    try {
      return parse(new Cursor(bytes, complete || bytes.length === 0, source.name, fileSize), fileSize);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      // Grow geometrically so a large header costs O(log n) reads; keep what we have.
      const want = Math.min(Math.max(e.upTo, bytes.length * 2), fileSize ?? Infinity, MAX_HEADER_BYTES);
      const more = await source.read(bytes.length, want - bytes.length);
      const grown = new Uint8Array(bytes.length + more.length);
      grown.set(bytes);
      grown.set(more, bytes.length);
      if (more.length === 0) {
        // The source ended before its stated size (or has none): parse once more as complete.
        return parse(new Cursor(grown, true, source.name), fileSize ?? grown.length);
      }
      bytes = grown;
    }
  }
}

/** A metadata value by key, or undefined. */
export function meta(file: GGUFFile, key: string): GGUFValue | undefined {
  return file.metadata.get(key)?.value;
}
