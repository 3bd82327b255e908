// GGUF writer (version 3, or 2 on request): the model factory's output stage. Tensor bytes are
// taken as given (already quantized), laid out in order, each at an `alignment`-byte offset.
import { GGMLType, GGUFValueType, tensorBytes, typeName, type GGUFEntry, type GGUFScalar } from './types.ts';

export interface TensorInput {
  name: string;
  /** Dimensions, innermost first (GGUF order). */
  shape: number[];
  type: GGMLType;
  data: Uint8Array;
}

export interface WriteOptions {
  version?: 2 | 3;
  alignment?: number;
}

/** Metadata value constructors, so each entry carries the GGUF type llama.cpp expects. */
export const gv = {
  u32: (value: number): GGUFEntry => ({ type: GGUFValueType.UINT32, value }),
  i32: (value: number): GGUFEntry => ({ type: GGUFValueType.INT32, value }),
  f32: (value: number): GGUFEntry => ({ type: GGUFValueType.FLOAT32, value }),
  bool: (value: boolean): GGUFEntry => ({ type: GGUFValueType.BOOL, value }),
  str: (value: string): GGUFEntry => ({ type: GGUFValueType.STRING, value }),
  u64: (value: bigint): GGUFEntry => ({ type: GGUFValueType.UINT64, value }),
  arr: (itemType: GGUFValueType, value: GGUFScalar[]): GGUFEntry => ({ type: GGUFValueType.ARRAY, itemType, value }),
};

const encoder = new TextEncoder();

/** Growable little-endian byte sink. */
class Sink {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  len = 0;
  reserve(n: number) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }
  num(type: GGUFValueType, v: GGUFScalar) {
    this.reserve(8);
    const d = this.view, p = this.len;
    switch (type) {
      case GGUFValueType.UINT8: d.setUint8(p, Number(v)); this.len += 1; break;
      case GGUFValueType.INT8: d.setInt8(p, Number(v)); this.len += 1; break;
      case GGUFValueType.BOOL: d.setUint8(p, v ? 1 : 0); this.len += 1; break;
      case GGUFValueType.UINT16: d.setUint16(p, Number(v), true); this.len += 2; break;
      case GGUFValueType.INT16: d.setInt16(p, Number(v), true); this.len += 2; break;
      case GGUFValueType.UINT32: d.setUint32(p, Number(v), true); this.len += 4; break;
      case GGUFValueType.INT32: d.setInt32(p, Number(v), true); this.len += 4; break;
      case GGUFValueType.FLOAT32: d.setFloat32(p, Number(v), true); this.len += 4; break;
      case GGUFValueType.FLOAT64: d.setFloat64(p, Number(v), true); this.len += 8; break;
      case GGUFValueType.UINT64: d.setBigUint64(p, BigInt(v), true); this.len += 8; break;
      case GGUFValueType.INT64: d.setBigInt64(p, BigInt(v), true); this.len += 8; break;
      case GGUFValueType.STRING: this.str(String(v)); break;
      default: throw new TypeError(`cannot write a scalar of GGUF value type ${type}`);
    }
  }
  str(s: string) {
    const b = encoder.encode(s);
    this.num(GGUFValueType.UINT64, BigInt(b.length));
    this.bytes(b);
  }
  bytes(b: Uint8Array) {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  pad(alignment: number) {
    const n = (alignment - (this.len % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }
}

/** A tensor as the header describes it (no data). */
export type TensorHeader = Omit<TensorInput, 'data'>;

/** Where everything goes in a GGUF file, computed from the tensor infos alone, so a file can be
 *  streamed to disk (header, then each tensor's data at its offset) without holding its data. */
export interface GGUFLayout {
  /** Magic, metadata and tensor infos, zero-padded to the alignment: the file's first bytes. */
  header: Uint8Array;
  /** Per tensor, in order: offset from the start of the data section and data size (bytes). */
  offsets: number[];
  sizes: number[];
  alignment: number;
  /** Bytes of the whole file: the header plus every tensor's data, each padded to the alignment. */
  totalBytes: number;
}

/** The header bytes and data layout of a GGUF file. Metadata keeps insertion order;
 *  `general.alignment` is added when the alignment is not the default 32. */
export function layoutGGUF(metadata: Iterable<[string, GGUFEntry]>, tensors: TensorHeader[], opts: WriteOptions = {}): GGUFLayout {
  const alignment = opts.alignment ?? 32;
  const kv = [...metadata].filter(([k]) => k !== 'general.alignment');
  if (alignment !== 32) kv.push(['general.alignment', gv.u32(alignment)]);

  const s = new Sink();
  s.bytes(encoder.encode('GGUF'));
  s.num(GGUFValueType.UINT32, opts.version ?? 3);
  s.num(GGUFValueType.UINT64, BigInt(tensors.length));
  s.num(GGUFValueType.UINT64, BigInt(kv.length));
  for (const [key, e] of kv) {
    s.str(key);
    s.num(GGUFValueType.UINT32, e.type);
    if (e.type === GGUFValueType.ARRAY) {
      const items = e.value as GGUFScalar[];
      s.num(GGUFValueType.UINT32, e.itemType!);
      s.num(GGUFValueType.UINT64, BigInt(items.length));
      for (const v of items) s.num(e.itemType!, v);
    } else {
      s.num(e.type, e.value as GGUFScalar);
    }
  }
  const offsets: number[] = [], sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = tensorBytes(t.type, t.shape.reduce((a, b) => a * b, 1));
    if (size === null) throw new RangeError(`tensor "${t.name}": ${typeName(t.type)} [${t.shape}] is not a whole number of blocks of a known type`);
    s.str(t.name);
    s.num(GGUFValueType.UINT32, t.shape.length);
    for (const d of t.shape) s.num(GGUFValueType.UINT64, BigInt(d));
    s.num(GGUFValueType.UINT32, t.type);
    s.num(GGUFValueType.UINT64, BigInt(offset));
    offsets.push(offset);
    sizes.push(size);
    offset += Math.ceil(size / alignment) * alignment;
  }
  s.pad(alignment);
  return { header: s.buf.slice(0, s.len), offsets, sizes, alignment, totalBytes: s.len + offset };
}

/** Serializes a GGUF file: layoutGGUF's header, then each tensor's data at its offset. */
export function writeGGUF(metadata: Iterable<[string, GGUFEntry]>, tensors: TensorInput[], opts: WriteOptions = {}): Uint8Array {
  for (const t of tensors) {
    const expected = tensorBytes(t.type, t.shape.reduce((a, b) => a * b, 1));
    if (expected !== t.data.length) {
      throw new RangeError(`tensor "${t.name}": ${typeName(t.type)} [${t.shape}] needs ${expected} bytes, got ${t.data.length}`);
    }
  }
  const layout = layoutGGUF(metadata, tensors, opts);
  const out = new Uint8Array(layout.totalBytes); // zeroed: the padding
  out.set(layout.header);
  tensors.forEach((t, i) => out.set(t.data, layout.header.length + layout.offsets[i]));
  return out;
}
