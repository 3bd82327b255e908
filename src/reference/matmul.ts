// Weights and matrix-vector products.
//
// A weight is dequantized once to f32 (exact for every supported type: each element is a small
// integer times f16 scales) and cached. In 'ggml' numerics the activation is first converted to
// the weight type's `vec_dot_type`, as ggml_compute_forward_mul_mat does (ggml-cpu.c,
// type_traits_cpu[].vec_dot_type / from_float), and the product is taken with the values the
// quantized activation stands for; the integer block dot products of ggml-cpu/arch/x86/quants.c
// and repack.cpp compute the same sum (up to f32 summation order). The converters below follow
// ggml-cpu/arch/x86/quants.c (quantize_row_q8_0, quantize_row_q8_1) and ggml-quants.c
// (quantize_row_q8_K_ref), which differ from each other in rounding and scale on purpose.
import { dequantize, UnsupportedTypeError } from '../gguf/dequant.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, roundF16 } from '../gguf/half.ts';
import { GGMLType, QK_K } from '../gguf/types.ts';
import { dotNibble32, dotPath, dotQ2K, takesGgmlDot, type Q8Blocks } from './ggml-dot.ts';
import { fr, roundQ, roundTo, type Num, type Vec } from './numerics.ts';

export interface Weight {
  name: string;
  type: GGMLType;
  /** ne[0]: input length of each row (elements). */
  cols: number;
  /** ne[1]: output length (rows). */
  rows: number;
  /** ne[2]: stacked matrices (routed experts, outermost), 1 for a plain matrix or vector. */
  count: number;
  /** Dequantized values, (count, rows, cols). */
  data: Float32Array;
  /** Q4_1/Q5_1 only: the offset m of each 32-element block, (count, rows, cols/32). ggml adds
   *  m * s per block, where s is the activation block's stored f16 sum (see convertQ8_1). */
  mins?: Float32Array;
  /** Q2_K, IQ4_NL, Q4_0, MXFP4, Q8_0: the tensor's bytes, for ggml's own products in 'ggml' numerics (ggml-dot.ts). */
  raw?: Uint8Array;
  /** One routed expert's matrices (multiplied by mul_mat_id, never by a batched gemm). */
  expert?: boolean;
}

/** Builds a Weight from a tensor's raw bytes. `shape` is GGUF order: [cols, rows?, count?]. */
export function makeWeight(name: string, type: GGMLType, shape: number[], bytes: Uint8Array, expert = false): Weight {
  const [cols, rows = 1, count = 1] = shape;
  const n = cols * rows * count;
  const w: Weight = { name, type, cols, rows, count, data: dequantize(type, bytes, n, name), expert: expert || count > 1 };
  if (takesGgmlDot(type)) w.raw = bytes;
  if (type === GGMLType.Q4_1 || type === GGMLType.Q5_1) {
    const blockBytes = type === GGMLType.Q4_1 ? 20 : 24; // d, m (f16) first in both layouts
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    w.mins = new Float32Array(n / 32);
    for (let b = 0; b < n / 32; b++) w.mins[b] = f16ToF32(view.getUint16(b * blockBytes + 2, true));
  }
  return w;
}

/** An activation vector as a dot product with a given weight type sees it. */
export interface Activation {
  /** Values of the converted activation (dequantized from its vec_dot_type blocks). */
  v: ArrayLike<number>;
  /** Q8_1 only: per 32-block, s - d*Σq (the stored f16 sum minus the exact sum of v). */
  corr?: Float64Array;
  /** Q8_0/Q8_K in 'ggml' numerics: the integer quants and block scales themselves. */
  q8?: Q8Blocks;
}

/** ggml's vec_dot_type for each weight type the reference supports. */
export function vecDotType(type: GGMLType): GGMLType {
  switch (type) {
    case GGMLType.F32: case GGMLType.F16: case GGMLType.BF16: return type;
    case GGMLType.Q4_0: case GGMLType.Q5_0: case GGMLType.Q8_0: case GGMLType.IQ4_NL: case GGMLType.MXFP4: return GGMLType.Q8_0;
    case GGMLType.Q4_1: case GGMLType.Q5_1: return GGMLType.Q8_1;
    case GGMLType.Q2_K: case GGMLType.Q3_K: case GGMLType.Q4_K: case GGMLType.Q5_K: case GGMLType.Q6_K: case GGMLType.IQ4_XS:
      return GGMLType.Q8_K;
    default: throw new UnsupportedTypeError(type);
  }
}

/** Converts x (f32 values) to what ggml's dot product with a `type` weight multiplies. */
export function convertActivation(num: Num, type: GGMLType, x: Vec): Activation {
  if (num.mode === 'exact') return { v: x };
  switch (vecDotType(type)) {
    case GGMLType.F32: return { v: x };
    case GGMLType.F16: return { v: Float64Array.from(x, (a) => roundTo(num, a, roundF16, f16Neighbours, 'f16')) };
    case GGMLType.BF16: return { v: Float64Array.from(x, (a) => roundTo(num, a, roundBf16, bf16Neighbours, 'bf16')) };
    case GGMLType.Q8_0: return convertQ8(num, x, false);
    case GGMLType.Q8_1: return convertQ8(num, x, true);
    default: return convertQ8_K(num, x);
  }
}

const roundBf16 = (x: number) => bf16ToF32(f32ToBf16(x));

/** The two values of a 16-bit float format (to/from bits) around x, by magnitude. */
function neighbours(x: number, toBits: (x: number) => number, fromBits: (b: number) => number): [number, number] {
  const s = x < 0 ? -1 : 1, ax = Math.abs(x);
  const h = toBits(ax), a = fromBits(h);
  if (a === ax) return [x, x];
  const b = fromBits(ax > a ? h + 1 : h - 1);
  return [s * Math.min(a, b), s * Math.max(a, b)];
}
/** The f16 values around x. */
export const f16Neighbours = (x: number) => neighbours(x, f32ToF16, f16ToF32);
const bf16Neighbours = (x: number) => neighbours(x, f32ToBf16, bf16ToF32);

/** quantize_row_q8_0 / q8_1 (x86 AVX path): per 32 values, amax = max |x|, d = amax/127 stored
 *  as f16, q = round-half-even(x * (127/amax)) — note 127/amax, not 1/d. Q8_1 also stores
 *  s = f16(d * Σq) with the f32 (not f16) d; the dot product uses s for the weight's m term. */
function convertQ8(num: Num, x: Vec, withSum: boolean): Activation {
  const n = x.length;
  if (n % 32) throw new RangeError(`Q8_0/Q8_1 activation of ${n} values is not a whole number of 32-blocks`);
  const v = new Float64Array(n);
  const q8: Q8Blocks = { q: new Int8Array(n), d: new Float64Array(n / 32) };
  const corr = withSum ? new Float64Array(n / 32) : undefined;
  for (let o = 0; o < n; o += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]));
    const d = fr(amax / 127);
    const id = amax !== 0 ? fr(127 / amax) : 0;
    const d16 = roundTo(num, d, roundF16, f16Neighbours, 'q8-scale'); // the block scale, stored as f16
    q8.d[o / 32] = d16;
    let sumq = 0;
    for (let j = 0; j < 32; j++) {
      const q = roundQ(num, fr(x[o + j] * id));
      sumq += q;
      v[o + j] = d16 * q;
      q8.q[o + j] = q;
    }
    if (corr) corr[o / 32] = roundTo(num, fr(d * sumq), roundF16, f16Neighbours, 'q8-scale') - d16 * sumq;
  }
  return { v, corr, q8 };
}

/** quantize_row_q8_K_ref: per 256 values, max = the value of largest |x| (first one), iscale =
 *  -127/max, q = min(127, nearest_int(iscale * x)) (round half even), d = 1/iscale kept as f32. */
function convertQ8_K(num: Num, x: Vec): Activation {
  const n = x.length;
  if (n % QK_K) throw new RangeError(`Q8_K activation of ${n} values is not a whole number of 256-blocks`);
  const v = new Float64Array(n);
  const q8: Q8Blocks = { q: new Int8Array(n), d: new Float64Array(n / QK_K) };
  for (let o = 0; o < n; o += QK_K) {
    let amax = 0, max = 0;
    for (let j = 0; j < QK_K; j++) {
      const a = Math.abs(x[o + j]);
      if (a > amax) { amax = a; max = x[o + j]; }
    }
    if (amax === 0) continue; // d = 0, q = 0
    const iscale = fr(-127 / max);
    const d = fr(1 / iscale);
    q8.d[o / QK_K] = d;
    for (let j = 0; j < QK_K; j++) {
      q8.q[o + j] = Math.min(127, roundQ(num, fr(iscale * x[o + j])));
      v[o + j] = d * q8.q[o + j];
    }
  }
  return { v, q8 };
}

/** y = W[mat] · x: (rows) from (cols). ggml stores the f32 result of each row's dot product. */
export function matvec(num: Num, w: Weight, x: Vec, mat = 0, act?: Activation): Vec {
  if (x.length !== w.cols) throw new RangeError(`${w.name}: input of ${x.length} values, the weight's rows have ${w.cols}`);
  const a = act ?? convertActivation(num, w.type, x);
  const { v, corr } = a;
  const y = num.vec(w.rows);
  if (w.raw && a.q8) return ggmlProducts(num, w, mat, a.q8, y);
  const nb = w.cols / 32;
  for (let r = 0; r < w.rows; r++) {
    const base = (mat * w.rows + r) * w.cols;
    let s = 0;
    for (let j = 0; j < w.cols; j++) s += w.data[base + j] * v[j];
    if (corr && w.mins) {
      const mb = (mat * w.rows + r) * nb;
      for (let b = 0; b < nb; b++) s += w.mins[mb + b] * corr[b];
    }
    y[r] = s; // rounds to f32 in 'ggml' mode
  }
  return y;
}

/** Each row's product as llama.cpp's kernel for the type and path forms it (ggml-dot.ts). */
function ggmlProducts(num: Num, w: Weight, mat: number, q8: Q8Blocks, y: Vec): Vec {
  const raw = w.raw!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const path = dotPath(w.rows, !!w.expert, !!num.gemm, w.type);
  const q2k = w.type === GGMLType.Q2_K;
  const nb = w.cols / (q2k ? QK_K : 32);
  for (let r = 0; r < w.rows; r++) {
    const first = (mat * w.rows + r) * nb;
    y[r] = q2k ? dotQ2K(raw, view, first, nb, q8, path) : dotNibble32(w.type, raw, view, first, nb, q8, path);
  }
  return y;
}

/** Row `row` of matrix `mat` of a weight (embedding lookup: ggml_get_rows dequantizes one row). */
export function weightRow(num: Num, w: Weight, row: number, mat = 0): Vec {
  const y = num.vec(w.cols);
  y.set(w.data.subarray((mat * w.rows + row) * w.cols, (mat * w.rows + row + 1) * w.cols));
  return y;
}
