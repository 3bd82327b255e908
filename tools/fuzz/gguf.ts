// GGUF header fuzzer: mutates real factory files (truncations, bit flips, boundary values in
// counts and lengths, wrong value types, duplicated and dropped entries, bad tensor dims, types and
// offsets) and parses each with readGGUF, then planModel when it parses. Every outcome must be a
// success or a named error; anything else is a crash. Deterministic: case i of seed s is always
// the same bytes, so a failure is replayed with --only i.
//
//   node bin/run-ts.mjs tools/fuzz/gguf.ts [--seed N] [--cases N] [--only I] [--dump FILE]
//
// Prints "ready <bases>" once the base files are made, then one line per case:
// "<index>\t<outcome>\t<wall ms>\t<CPU ms>", then "done". src/gguf/fuzz.test.ts runs this in a child
// process with a heap limit and a watchdog, so an out-of-memory or a hang is caught as such.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GGUFError, MAX_HEADER_BYTES, readGGUF } from '../../src/gguf/reader.ts';
import type { RangeSource } from '../../src/gguf/source.ts';
import { GGMLType, GGUFValueType, typeName } from '../../src/gguf/types.ts';
import { ModelFormatError } from '../../src/model/hparams.ts';
import { planModel, UnsupportedArchError } from '../../src/model/plan.ts';
import { type FactoryOptions, makeModel, seededRandom } from '../factory/make-model.ts';

// ---- base files and where their fields are --------------------------------------------------

type FieldKind = 'count' | 'strlen' | 'vtype' | 'itype' | 'alen' | 'num' | 'ndims' | 'dim' | 'ttype' | 'toff';

interface Field {
  kind: FieldKind;
  off: number;   // byte offset in the file
  size: number;  // bytes (4 or 8 for numbers; 8 for lengths and counts)
  vtype?: GGUFValueType; // for 'num': the stored value type
}

interface Segment { start: number; end: number }

export interface Base {
  label: string;
  bytes: Uint8Array;
  dataOffset: number;       // start of the tensor data (end of header padding)
  fields: Map<FieldKind, Field[]>;
  entries: Segment[];       // each metadata entry, key to end of value
  tensorInfos: Segment[];   // each tensor info
  strings: Field[];         // string-valued scalar entries (their length field)
}

const NUM_SIZE: Partial<Record<GGUFValueType, number>> = {
  [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.BOOL]: 1,
  [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
  [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4,
  [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8,
};

/** Maps the fields of a valid GGUF file (a plain sequential walk; the file is ours, so no checks).
 *  Of long arrays only the first items are recorded, so mutations do not all land in vocabularies. */
function mapFields(bytes: Uint8Array): Omit<Base, 'label' | 'bytes' | 'dataOffset'> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields = new Map<FieldKind, Field[]>();
  const add = (kind: FieldKind, off: number, size: number, vtype?: GGUFValueType) => {
    if (!fields.has(kind)) fields.set(kind, []);
    fields.get(kind)!.push({ kind, off, size, vtype });
  };
  let p = 8;
  const u32 = () => { const x = v.getUint32(p, true); p += 4; return x; };
  const u64 = () => { const x = Number(v.getBigUint64(p, true)); p += 8; return x; };
  const str = (record: boolean) => { if (record) add('strlen', p, 8); const n = u64(); p += n; };
  add('count', p, 8); const nT = u64();
  add('count', p, 8); const nKv = u64();
  const entries: Segment[] = [], tensorInfos: Segment[] = [], strings: Field[] = [];
  for (let i = 0; i < nKv; i++) {
    const start = p;
    str(true);
    add('vtype', p, 4);
    const t = u32() as GGUFValueType;
    if (t === GGUFValueType.ARRAY) {
      add('itype', p, 4);
      const it = u32() as GGUFValueType;
      add('alen', p, 8);
      const n = u64();
      for (let k = 0; k < n; k++) {
        const record = k < 8 || k === n - 1;
        if (it === GGUFValueType.STRING) str(record);
        else { if (record) add('num', p, NUM_SIZE[it]!, it); p += NUM_SIZE[it]!; }
      }
    } else if (t === GGUFValueType.STRING) {
      strings.push({ kind: 'strlen', off: p, size: 8 });
      str(true);
    } else {
      add('num', p, NUM_SIZE[t]!, t);
      p += NUM_SIZE[t]!;
    }
    entries.push({ start, end: p });
  }
  for (let i = 0; i < nT; i++) {
    const start = p;
    str(true);
    add('ndims', p, 4);
    const nd = u32();
    for (let d = 0; d < nd; d++) { add('dim', p, 8); p += 8; }
    add('ttype', p, 4); p += 4;
    add('toff', p, 8); p += 8;
    tensorInfos.push({ start, end: p });
  }
  return { fields, entries, tensorInfos, strings };
}

const BASE_OPTIONS: (FactoryOptions & { weight: number })[] = [
  { arch: 'llama', type: GGMLType.F32, nMerges: 50, weight: 1 },
  { arch: 'llama', type: GGMLType.Q4_K, nMerges: 100, version: 2, hp: { nExpert: 8, nExpertUsed: 2 }, weight: 1 },
  { arch: 'qwen2', type: GGMLType.Q8_0, nMerges: 50, alignment: 64, weight: 1 },
  { arch: 'qwen3', type: GGMLType.Q4_0, nMerges: 50, tied: true, weight: 1 },
  { arch: 'qwen2moe', type: GGMLType.Q4_K, nMerges: 50, weight: 1 },
  { arch: 'qwen3moe', type: GGMLType.Q6_K, nMerges: 50, version: 2, weight: 1 },
  { arch: 'olmoe', type: GGMLType.F16, nMerges: 50, weight: 1 },
  { arch: 'granitemoe', type: GGMLType.Q5_K, nMerges: 50, alignment: 16, weight: 1 },
  { arch: 'grok', type: GGMLType.Q8_0, nMerges: 50, version: 2, weight: 1 },
  // RoPE scaling: Llama 3's rope_freqs tensor; YaRN keys
  { arch: 'llama', type: GGMLType.Q8_0, nMerges: 50, hp: { ropeBase: 500000 }, llama3Rope: { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 }, weight: 0.5 },
  { arch: 'qwen3', type: GGMLType.Q4_K, nMerges: 50, hp: { ropeScaling: 'yarn', ropeScaleFactor: 4, nCtxOrigYarn: 32768 }, weight: 0.5 },
  { arch: 'olmoe', type: GGMLType.Q2_K, nMerges: 50, weight: 0.5 },
  { arch: 'qwen2', type: GGMLType.Q3_K, nMerges: 50, alignment: 64, weight: 0.5 },
  // IQ4_XS with IQ4_NL down projections (experts 96 wide: llama.cpp's fallback)
  { arch: 'qwen3moe', type: GGMLType.IQ4_XS, nMerges: 50, hp: { nFfExp: 96 }, weight: 0.5 },
  // gpt-oss: MXFP4 experts, sinks, sliding-window and YaRN keys, biases; ERNIE-4.5 MoE: a leading
  // dense layer, shared experts, the selection bias; an IQ4_NL file
  { arch: 'gpt-oss', type: GGMLType.Q8_0, nMerges: 50, hp: { nHead: 8, nHeadKv: 2, nExpert: 8, nExpertUsed: 4, ropeScaling: 'yarn', ropeScaleFactor: 32, nCtxOrigYarn: 4096 }, typeOverrides: [{ match: /_exps\.weight$/, type: GGMLType.MXFP4 }], weight: 0.75 },
  { arch: 'ernie4_5-moe', type: GGMLType.Q4_K, nMerges: 50, hp: { nFfShexp: 256 }, weight: 0.5 },
  { arch: 'llama', type: GGMLType.IQ4_NL, nMerges: 50, weight: 0.4 },
  // A header larger than the reader's first read (256 KiB), so the window has to grow.
  { arch: 'llama', type: GGMLType.Q4_0, nMerges: 20000, hp: { nLayer: 1 }, weight: 0.4 },
];

export async function makeBases(): Promise<(Base & { weight: number })[]> {
  const out = [];
  for (const [i, o] of BASE_OPTIONS.entries()) {
    const bytes = makeModel({ ...o, seed: 100 + i });
    const m = mapFields(bytes);
    const dataOffset = (await readGGUF(bytesOf(bytes))).dataOffset;
    out.push({ label: `${o.arch}-${typeName(o.type ?? GGMLType.F32)}-v${o.version ?? 3}${o.nMerges! > 1000 ? '-big-header' : ''}`, bytes, ...m, dataOffset, weight: o.weight });
  }
  return out;
}

function bytesOf(b: Uint8Array): RangeSource {
  return { name: 'base', size: async () => b.length, read: async (o, n) => b.subarray(o, Math.min(b.length, o + n)) };
}

// ---- mutations ---------------------------------------------------------------------------------

type Rng = ReturnType<typeof seededRandom>;

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r.uniform() * xs.length)];
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r.uniform() * (hi - lo + 1));

/** A mutable header (the bytes before the tensor data) plus the unchanged data section. */
interface Work {
  head: Uint8Array;
  tail: Uint8Array;     // the base's tensor data, never modified
  total: number;        // bytes the source serves (truncation lowers it)
  unknownSize: boolean; // the source reports no size, as a URL without Content-Range total
  notes: string[];      // what was done, for a replayed case
}

function splice(w: Work, at: number, remove: number, insert: Uint8Array) {
  const h = new Uint8Array(w.head.length - remove + insert.length);
  h.set(w.head.subarray(0, at));
  h.set(insert, at);
  h.set(w.head.subarray(at + remove), at + insert.length);
  w.total += h.length - w.head.length;
  w.head = h;
}

function setU64(w: Work, off: number, v: bigint) {
  if (off + 8 <= w.head.length) new DataView(w.head.buffer).setBigUint64(off, BigInt.asUintN(64, v), true);
}
function setU32(w: Work, off: number, v: number) {
  if (off + 4 <= w.head.length) new DataView(w.head.buffer).setUint32(off, v >>> 0, true);
}
function getU64(w: Work, off: number): bigint {
  return off + 8 <= w.head.length ? new DataView(w.head.buffer).getBigUint64(off, true) : 0n;
}

function boundaryU64(r: Rng, w: Work, current: bigint): bigint {
  const fileSize = BigInt(w.total);
  return pick(r, [
    0n, 1n, 2n, 7n, 0x7fn, 0xffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
    2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n,
    fileSize, fileSize - 1n, fileSize + 1n, BigInt(w.head.length),
    BigInt(MAX_HEADER_BYTES), BigInt(MAX_HEADER_BYTES) + 1n, BigInt(MAX_HEADER_BYTES / 8), BigInt(MAX_HEADER_BYTES / 32),
    current + 1n, current - 1n, current * 2n, current * 1000n, BigInt(int(r, 0, 0xffffffff)),
  ]);
}

const VALUE_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255, 0x7fffffff, 0xffffffff];
const TENSOR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 23, 24, 28, 30, 31, 33, 36, 39, 40, 1000, 0xffffffff];
const NUM_BITS: Record<number, number[]> = {
  4: [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 0x7fc00000 /* f32 NaN */, 0x7f800000 /* f32 inf */, 0xbf800000 /* -1.0f */, 0x3f000000 /* 0.5f */, 100000, 65536],
};

/** Field of a kind, recorded in the base, when it still lies inside the (possibly spliced) head. */
function field(r: Rng, b: Base, kinds: FieldKind[]): Field | undefined {
  const fs = kinds.flatMap((k) => b.fields.get(k) ?? []);
  return fs.length ? pick(r, fs) : undefined;
}

const encoder = new TextEncoder();
function strBytes(s: string | Uint8Array): Uint8Array {
  const b = typeof s === 'string' ? encoder.encode(s) : s;
  const out = new Uint8Array(8 + b.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(b.length), true);
  out.set(b, 8);
  return out;
}

/** One mutation of `w`. Offsets come from the base; splices happen last in a case (see below), so
 *  field offsets stay valid for the in-place mutations before them. */
const IN_PLACE: ((r: Rng, w: Work, b: Base) => void)[] = [
  function bitflips(r, w) {
    const n = int(r, 1, 8);
    for (let i = 0; i < n; i++) { const at = int(r, 0, w.head.length - 1); w.head[at] ^= 1 << int(r, 0, 7); }
    w.notes.push(`flip ${n} bits`);
  },
  function bytes(r, w) {
    const at = int(r, 0, w.head.length - 1), n = int(r, 1, 16), fill = pick(r, ['random', 0xff, 0x00] as const);
    for (let i = at; i < Math.min(w.head.length, at + n); i++) w.head[i] = fill === 'random' ? int(r, 0, 255) : fill;
    w.notes.push(`overwrite ${n} bytes at ${at} with ${fill}`);
  },
  function countOrLength(r, w, b) {
    const f = field(r, b, ['count', 'strlen', 'alen']);
    if (!f) return;
    const v = boundaryU64(r, w, getU64(w, f.off));
    setU64(w, f.off, v);
    w.notes.push(`${f.kind} at ${f.off} = ${v}`);
  },
  function valueType(r, w, b) {
    const f = field(r, b, ['vtype', 'itype']);
    if (!f) return;
    const v = pick(r, VALUE_TYPES);
    setU32(w, f.off, v);
    w.notes.push(`${f.kind} at ${f.off} = ${v}`);
  },
  function numericValue(r, w, b) {
    const f = field(r, b, ['num']);
    if (!f) return;
    if (f.size === 4) setU32(w, f.off, pick(r, NUM_BITS[4]));
    else if (f.size === 8) setU64(w, f.off, boundaryU64(r, w, getU64(w, f.off)));
    else w.head[f.off] = pick(r, [0, 1, 2, 0x7f, 0x80, 0xff]);
    w.notes.push(`value at ${f.off} (${f.size} bytes) changed`);
  },
  function tensorDims(r, w, b) {
    const f = field(r, b, ['ndims', 'dim']);
    if (!f) return;
    if (f.kind === 'ndims') setU32(w, f.off, pick(r, [0, 1, 2, 3, 4, 5, 6, 0xffffffff]));
    else setU64(w, f.off, pick(r, [0n, 1n, 3n, 31n, 33n, 255n, 257n, ...[boundaryU64(r, w, getU64(w, f.off))]]));
    w.notes.push(`${f.kind} at ${f.off} changed`);
  },
  function tensorType(r, w, b) {
    const f = field(r, b, ['ttype']);
    if (!f) return;
    setU32(w, f.off, pick(r, TENSOR_TYPES));
    w.notes.push(`tensor type at ${f.off} changed`);
  },
  function tensorOffset(r, w, b) {
    const f = field(r, b, ['toff']);
    if (!f) return;
    const cur = getU64(w, f.off);
    setU64(w, f.off, pick(r, [cur + 1n, cur + 16n, cur + 32n, 0n, BigInt(w.tail.length), BigInt(w.tail.length) - 32n, boundaryU64(r, w, cur)]));
    w.notes.push(`tensor offset at ${f.off} changed`);
  },
  function magicOrVersion(r, w) {
    if (r.uniform() < 0.3) { w.head[int(r, 0, 3)] ^= 1 << int(r, 0, 7); w.notes.push('magic'); return; }
    setU32(w, 4, pick(r, [0, 1, 2, 3, 4, 0x03000000, 0xffffffff]));
    w.notes.push('version');
  },
];

const SPLICES: ((r: Rng, w: Work, b: Base) => void)[] = [
  function duplicateEntry(r, w, b) {
    const e = pick(r, b.entries), to = pick(r, b.entries);
    splice(w, to.end, 0, w.head.slice(e.start, e.end));
    if (r.uniform() < 0.8) setU64(w, 16, getU64(w, 16) + 1n);
    w.notes.push(`duplicate entry at ${e.start}`);
  },
  function dropEntry(r, w, b) {
    const e = pick(r, b.entries);
    splice(w, e.start, e.end - e.start, new Uint8Array(0));
    if (r.uniform() < 0.7) setU64(w, 16, getU64(w, 16) - 1n);
    w.notes.push(`drop entry at ${e.start}`);
  },
  function duplicateTensorInfo(r, w, b) {
    if (!b.tensorInfos.length) return;
    const e = pick(r, b.tensorInfos), to = pick(r, b.tensorInfos);
    splice(w, to.end, 0, w.head.slice(e.start, e.end));
    if (r.uniform() < 0.8) setU64(w, 8, getU64(w, 8) + 1n);
    w.notes.push(`duplicate tensor info at ${e.start}`);
  },
  function dropTensorInfo(r, w, b) {
    if (!b.tensorInfos.length) return;
    const e = pick(r, b.tensorInfos);
    splice(w, e.start, e.end - e.start, new Uint8Array(0));
    if (r.uniform() < 0.7) setU64(w, 8, getU64(w, 8) - 1n);
    w.notes.push(`drop tensor info at ${e.start}`);
  },
  function replaceString(r, w, b) {
    const f = pick(r, b.strings);
    const len = Number(getU64(w, f.off));
    if (f.off + 8 + len > w.head.length) return;
    const junk = new Uint8Array(int(r, 0, 12)).map(() => int(r, 0, 255)); // often invalid UTF-8
    const s = pick(r, ['llama', 'qwen2', 'qwen3moe', 'olmoe', 'grok', 'phi3', '', 'x'.repeat(300), junk]);
    splice(w, f.off, 8 + len, strBytes(s));
    w.notes.push(`string at ${f.off} replaced`);
  },
  function addAlignment(r, w, b) {
    const al = pick(r, [0, 1, 3, 16, 48, 64, 0x80000000, 0xffffffff]);
    const type = pick(r, [GGUFValueType.UINT32, GGUFValueType.UINT32, GGUFValueType.INT32, GGUFValueType.UINT64]);
    const key = strBytes('general.alignment');
    const val = new Uint8Array(4 + (type === GGUFValueType.UINT64 ? 8 : 4));
    const dv = new DataView(val.buffer);
    dv.setUint32(0, type, true);
    if (type === GGUFValueType.UINT64) dv.setBigUint64(4, BigInt(al), true); else dv.setUint32(4, al, true);
    const at = b.entries[0].start;
    const entry = new Uint8Array(key.length + val.length);
    entry.set(key);
    entry.set(val, key.length);
    splice(w, at, 0, entry);
    setU64(w, 16, getU64(w, 16) + 1n);
    w.notes.push(`general.alignment = ${al} (type ${type})`);
  },
  function insertOrDelete(r, w) {
    const at = int(r, 0, w.head.length - 1);
    if (r.uniform() < 0.5) splice(w, at, 0, new Uint8Array(int(r, 1, 16)).map(() => int(r, 0, 255)));
    else splice(w, at, Math.min(int(r, 1, 16), w.head.length - at), new Uint8Array(0));
    w.notes.push(`insert/delete at ${at}`);
  },
];

export interface FuzzCase {
  base: string;
  notes: string[];
  head: Uint8Array;
  tail: Uint8Array;
  total: number;
  unknownSize: boolean;
}

/** Case `index` of `seed`: 1 to 3 in-place mutations, sometimes a splice, sometimes a truncation. */
export function makeCase(bases: (Base & { weight: number })[], seed: number, index: number): FuzzCase {
  const r = seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) | 0);
  const sum = bases.reduce((a, b) => a + b.weight, 0);
  let x = r.uniform() * sum, b = bases[0];
  for (const c of bases) { if ((x -= c.weight) < 0) { b = c; break; } }
  const w: Work = {
    head: b.bytes.slice(0, b.dataOffset), tail: b.bytes.subarray(b.dataOffset),
    total: b.bytes.length, unknownSize: r.uniform() < 0.1, notes: [],
  };
  const nInPlace = r.uniform() < 0.15 ? 0 : int(r, 1, 3);
  for (let i = 0; i < nInPlace; i++) pick(r, IN_PLACE)(r, w, b);
  if (nInPlace === 0 || r.uniform() < 0.25) pick(r, SPLICES)(r, w, b);
  if (r.uniform() < 0.3) {
    // Truncate: mostly inside the header, sometimes inside the tensor data.
    const cut = r.uniform() < 0.75 ? int(r, 0, w.head.length) : int(r, w.head.length, w.total);
    w.total = cut;
    w.notes.push(`truncate at ${cut}`);
  }
  return { base: b.label, notes: w.notes, head: w.head, tail: w.tail, total: w.total, unknownSize: w.unknownSize };
}

/** The case as a source: mutated header, then the base's tensor data, cut at `total` bytes. */
export function caseSource(c: FuzzCase): RangeSource {
  const read = async (offset: number, length: number) => {
    const end = Math.min(c.total, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    for (let p = offset; p < end;) {
      if (p < c.head.length) {
        const n = Math.min(end, c.head.length) - p;
        out.set(c.head.subarray(p, p + n), p - offset);
        p += n;
      } else {
        const q = p - c.head.length, n = Math.min(end - p, c.tail.length - q);
        if (n <= 0) break;
        out.set(c.tail.subarray(q, q + n), p - offset);
        p += n;
      }
    }
    return out;
  };
  return { name: 'fuzz', size: async () => (c.unknownSize ? undefined : c.total), read };
}

export function caseBytes(c: FuzzCase): Uint8Array {
  const out = new Uint8Array(c.total);
  out.set(c.head.subarray(0, Math.min(c.head.length, c.total)));
  if (c.total > c.head.length) out.set(c.tail.subarray(0, c.total - c.head.length), c.head.length);
  return out;
}

/** "ok" (parsed and planned), "GGUFError:<code>", "ModelFormatError", "UnsupportedArchError",
 *  or "CRASH:<name>: <message>" for anything else, including a broken promise of the reader. */
export async function runCase(c: FuzzCase): Promise<string> {
  let file;
  try {
    file = await readGGUF(caseSource(c));
  } catch (e) {
    if (e instanceof GGUFError && typeof e.code === 'string') return `GGUFError:${e.code}`;
    return crash(e);
  }
  // The reader promises that every tensor's bytes lie inside the file when its size is known.
  if (!c.unknownSize) {
    const bad = file.tensors.find((t) => file.dataOffset + t.offset + t.nBytes > c.total);
    if (bad) return `CRASH:tensor ${bad.name} ends past the file but was accepted`;
  }
  try {
    planModel(file);
    return 'ok';
  } catch (e) {
    if (e instanceof ModelFormatError) return 'ModelFormatError';
    if (e instanceof UnsupportedArchError) return 'UnsupportedArchError';
    return crash(e);
  }
}

function crash(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  return `CRASH:${err.name}: ${err.message.slice(0, 300)} @ ${(err.stack ?? '').split('\n')[1]?.trim() ?? ''}`;
}

// ---- command line -----------------------------------------------------------------------------

async function cli() {
  const { values } = parseArgs({
    options: { seed: { type: 'string' }, cases: { type: 'string' }, only: { type: 'string' }, dump: { type: 'string' } },
  });
  const seed = Number(values.seed ?? 1);
  const bases = await makeBases();
  process.stdout.write(`ready ${bases.length}\n`);
  const indices = values.only !== undefined ? [Number(values.only)] : Array.from({ length: Number(values.cases ?? 10000) }, (_, i) => i);
  for (const i of indices) {
    const c = makeCase(bases, seed, i);
    if (values.dump) writeFileSync(values.dump, caseBytes(c));
    // Replaying one case: say what it is before running it, in case it hangs.
    if (values.only !== undefined) process.stdout.write(`case ${i}: ${c.base}: ${c.notes.join('; ')}\n`);
    const t0 = performance.now(), cpu0 = process.cpuUsage();
    const outcome = await runCase(c);
    const ms = performance.now() - t0, cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const line = `${i}\t${outcome}\t${ms.toFixed(2)}\t${cpuMs.toFixed(2)}` + (outcome.startsWith('CRASH') ? `\t${c.base}: ${c.notes.join('; ')}` : '');
    // One line per case, written at once (pipes are synchronous on Linux): a watchdog that sees
    // no line for 2 s knows the next case hangs.
    process.stdout.write(line + '\n');
  }
  process.stdout.write('done\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) await cli();
