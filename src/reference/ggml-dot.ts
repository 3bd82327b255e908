// llama.cpp's own dot products for the weight types whose f32 accumulation departs from the exact
// sum by more than rounding noise of the result: Q2_K (two sums, d·Σ and dmin·Σ, each many times
// their difference, subtracted in f32), the 32-block 4-bit types IQ4_NL, Q4_0 and MXFP4 (block
// products accumulated one f32 rounding at a time), and Q8_0 (an ulp of a K or V row decides its
// f16 cache rounding). The reference's exact sums part from ggml's
// by a few ulps of those terms, enough to turn a Q8 rounding downstream (an IQ4_NL olmoe's Q8_0
// block scale 2 ulps from its f16 midpoint; an ERNIE Q2_K's logits 0.9 apart from one step on).
// Here each row's integer sums are formed as the x86 kernels form them (ggml-cpu/arch/x86/
// quants.c, repack.cpp; AVX2/AVX-512 build) and scaled and accumulated with their f32 roundings,
// in their lane order:
//  - a matrix whose rows (ne[1]) are a multiple of 8 is repacked at load (repack.cpp
//    ggml_repack_get_optimal_repack_type: Q2_K with AVX-512; IQ4_NL, Q4_0, MXFP4 with AVX2) and
//    multiplied by ggml_gemv_*_8x8 per token, or, for a dense matrix and each full group of 4
//    tokens of a batch, by ggml_gemm_*_8x8 (mul_mat_id, the routed experts, always runs gemv);
//  - any other matrix by ggml_vec_dot_*: 8 f32 lanes (IQ4_NL, MXFP4: two sets, even and odd
//    blocks), summed by hsum_float_8.
//  - Q8_0 (no x86 repack) always in vec_dot's lanes: lane u sums elements 4u..4u+3 of a block
//    (dpbusd, or maddubs + madd), acc_u = fma(d_w * d_a, that sum, acc_u), hsum_float_8. A
//    batch's dense products (llamafile_sgemm, n >= 2: tinyBLAS_Q0_AVX) keep the same lanes, FMA
//    and hsum; mul_mat_id runs vec_dot. Measured: factory llama, qwen3moe, a
//    qwen2moe mix and gpt-oss (f32 cache) give llama.cpp's logits bit for bit (ggml-dot.test.ts).
// Not here (exact sums still): Q3_K, Q4_K..Q6_K, IQ4_XS.
import { f16ToF32 } from '../gguf/half.ts';
import { GGMLType, QK_K } from '../gguf/types.ts';
import { e8m0Half, KVALUES_IQ4NL, KVALUES_MXFP4 } from '../gguf/dequant.ts';
import { fma32, fr, reduceAdd16, SIMD_F32 } from './numerics.ts';

/** A Q8_0 or Q8_K activation as ggml stores it: the integer quants and each block's scale (Q8_0:
 *  the f16 value per 32, Q8_K: the f32 d per 256). */
export interface Q8Blocks {
  q: Int8Array;
  d: Float64Array;
}

/** How llama.cpp multiplies this token's row: 'vec' (vec_dot), 'gemv' or 'gemm' (repacked). */
export type DotPath = 'vec' | 'gemv' | 'gemm';

/** Types whose products are taken here in 'ggml' numerics and that x86 llama.cpp repacks (rows a
 *  multiple of 8): Q2_K, IQ4_NL, Q4_0, MXFP4. In such matrices the GPU's software kernels take
 *  them in the same order (gpu/ops/matvec.ts rowOrder: 'q2k' for Q2_K, 'b32' for the others).
 *  Q8_0 is in takesGgmlDot only: never repacked, the GPU takes it in vec_dot's lanes ('lanes'). */
export function hasGgmlDot(type: GGMLType): boolean {
  return type === GGMLType.Q2_K || (NIBBLE32[type] !== undefined && type !== GGMLType.Q8_0);
}

/** All types whose products are taken here: the repacked ones and Q8_0 (vec_dot lanes only). */
export function takesGgmlDot(type: GGMLType): boolean {
  return type === GGMLType.Q2_K || NIBBLE32[type] !== undefined;
}

/** The path for a matrix of `rows` rows (per expert), stacked experts or not, in a gemm group.
 *  Q8_0 is never repacked on x86, and tinyBLAS_Q0_AVX's batch products have vec_dot's lanes. */
export function dotPath(rows: number, stacked: boolean, gemm: boolean, type?: GGMLType): DotPath {
  if (rows % 8 || type === GGMLType.Q8_0) return 'vec';
  return gemm && !stacked ? 'gemm' : 'gemv';
}

/** hsum_float_8: (l0 + l4) .. (l3 + l7), then (s0 + s2) + (s1 + s3). */
function hsum8(l: ArrayLike<number>): number {
  const s = [0, 1, 2, 3].map((i) => fr(l[i + 4] + l[i]));
  return fr(fr(s[0] + s[2]) + fr(s[1] + s[3]));
}

const Q2K_BYTES = 84; // scales[16] (sc | m << 4), qs[64], d, dmin (f16)

/** Row `row` of a Q2_K matrix (raw bytes of the whole tensor, row-major, `cols` per row) times a
 *  Q8_K activation. */
export function dotQ2K(raw: Uint8Array, view: DataView, rowBlock: number, nb: number, a: Q8Blocks, path: DotPath): number {
  const lanes = new Float64Array(8);
  let acc = 0, accMin = 0;
  const q2 = new Int32Array(QK_K);
  for (let b = 0; b < nb; b++) {
    const o = (rowBlock + b) * Q2K_BYTES;
    const d16 = f16ToF32(view.getUint16(o + 80, true)), dmin16 = f16ToF32(view.getUint16(o + 82, true));
    const yd = a.d[b];
    for (let e = 0; e < QK_K; e++) {
      const half = e >> 7, j = (e >> 5) & 3, l = e & 31;
      q2[e] = (raw[o + 16 + 32 * half + l] >> (2 * j)) & 3;
    }
    const q8 = (e: number) => a.q[b * QK_K + e];
    const sc = (s: number) => raw[o + s] & 15, mn = (s: number) => raw[o + s] >> 4;
    const bsum = (s: number) => { let t = 0; for (let i = 0; i < 16; i++) t += q8(16 * s + i); return t; };
    if (path === 'vec') {
      const d = fr(yd * d16), dmin = fr(-yd * dmin16);
      for (let u = 0; u < 8; u++) {
        const prod = mn(2 * u) * bsum(2 * u) + mn(2 * u + 1) * bsum(2 * u + 1);
        lanes[u] = fma32(dmin, prod, lanes[u]);
        let sumi = 0;
        for (let j = 0; j < 2; j++) for (let k = 0; k < 4; k++) {
          const e0 = 128 * j + 32 * k + 4 * u;
          let p = 0;
          for (let i = 0; i < 4; i++) p += q2[e0 + i] * q8(e0 + i);
          sumi += sc(8 * j + 2 * k + (u >> 2)) * p;
        }
        lanes[u] = fma32(d, sumi, lanes[u]);
      }
      continue;
    }
    const dd = fr(d16 * yd), ddMin = fr(dmin16 * yd);
    const halves = path === 'gemm' ? [[0, 8], [8, 16]] : [[0, 16]];
    for (const [s0, s1] of halves) {
      let isum = 0, imin = 0;
      for (let s = s0; s < s1; s++) {
        let p = 0;
        for (let i = 0; i < 16; i++) p += q2[16 * s + i] * q8(16 * s + i);
        isum += sc(s) * p;
        imin += mn(s) * bsum(s);
      }
      acc = fma32(isum, dd, acc);
      accMin = fma32(imin, ddMin, accMin);
    }
  }
  return path === 'vec' ? hsum8(lanes) : fr(acc - accMin);
}

/** The 32-element 4-bit types (Q8_0 activations) whose x86 kernels share one shape: a scale per
 *  block and an integer per element (`int`: element e of the block whose quants start at q; 4-bit
 *  types in Q4_0's order, byte j: element j low nibble, j + 16 high). `pairs`: vec_dot keeps two
 *  sets of lanes (even and odd blocks), as for IQ4_NL and MXFP4; Q4_0's keeps one. */
interface Block32 {
  bytes: number;
  qs: number;
  scale: (view: DataView, o: number) => number;
  int: (raw: Uint8Array, q: number, e: number) => number;
  pairs: boolean;
}

const nibble = (raw: Uint8Array, q: number, e: number) => (e < 16 ? raw[q + e] & 15 : raw[q + e - 16] >> 4);
const f16At = (v: DataView, o: number) => f16ToF32(v.getUint16(o, true));

const NIBBLE32: Partial<Record<GGMLType, Block32>> = {
  [GGMLType.IQ4_NL]: { bytes: 18, qs: 2, scale: f16At, int: (r, q, e) => KVALUES_IQ4NL[nibble(r, q, e)], pairs: true },
  [GGMLType.MXFP4]: { bytes: 17, qs: 1, scale: (v, o) => e8m0Half(v.getUint8(o)), int: (r, q, e) => KVALUES_MXFP4[nibble(r, q, e)], pairs: true },
  [GGMLType.Q4_0]: { bytes: 18, qs: 2, scale: f16At, int: (r, q, e) => nibble(r, q, e) - 8, pairs: false },
  [GGMLType.Q8_0]: { bytes: 34, qs: 2, scale: f16At, int: (r, q, e) => (r[q + e] << 24) >> 24, pairs: false },
};

/** Row of a 32-block matrix (4-bit types, Q8_0; first block `rowBlock`, nb blocks) times a Q8_0 activation:
 *  block sums scaled by d_w * d_a (exact: an f16 or a power of two times an f16), accumulated in
 *  f32 one block at a time (repacked gemv/gemm) or in vec_dot's lanes. */
export function dotNibble32(type: GGMLType, raw: Uint8Array, view: DataView, rowBlock: number, nb: number, a: Q8Blocks, path: DotPath): number {
  const t = NIBBLE32[type]!;
  const lanes = [new Float64Array(8), new Float64Array(8)];
  let acc = 0, tail = 0;
  for (let b = 0; b < nb; b++) {
    const o = (rowBlock + b) * t.bytes;
    const dd = fr(t.scale(view, o) * a.d[b]);
    const q = o + t.qs;
    const v = (e: number) => t.int(raw, q, e) * a.q[32 * b + e];
    if (path !== 'vec') {
      let isum = 0;
      for (let e = 0; e < 32; e++) isum += v(e);
      acc = fma32(isum, dd, acc);
    } else if (!t.pairs || b + 1 < nb || b % 2 === 1) {
      const set = t.pairs ? lanes[b % 2] : lanes[0];
      for (let u = 0; u < 8; u++) set[u] = fma32(dd, v(4 * u) + v(4 * u + 1) + v(4 * u + 2) + v(4 * u + 3), set[u]);
    } else {
      let isum = 0; // the odd block out: scalar, after the vector sum
      for (let e = 0; e < 32; e++) isum += v(e);
      tail = isum * dd;
    }
  }
  if (path !== 'vec') return acc;
  const s = hsum8(t.pairs ? lanes[0].map((x, u) => fr(x + lanes[1][u])) : lanes[0]);
  return t.pairs && nb % 2 ? fr(s + tail) : s; // sumf += d * sumi, contracted to an FMA
}

const lanes = new Float64Array(4 * SIMD_F32);

/** Σ x[xo + i*xs] * y[yo + i] over i < n, of f16 values (each product exact in f32), as llama.cpp's
 *  x86 (AVX-512) build sums an F16 product whose rows have `len` >= n elements (the rest are zeros
 *  and add nothing) against an operand of `m` rows:
 *  - in a batch of 2 or more tokens, when len % 16 == 0 and m % 4 == 0 (llamafile_sgemm's
 *    tinyBLAS<16>): one accumulator of 16 lanes, element i FMA-ed into lane i % 16 in order,
 *    then _mm512_reduce_add_ps;
 *  - otherwise (one token) ggml_vec_dot_f16: 4 accumulators of 16 lanes over each 64 elements
 *    (element i into lane i % 64), added as (a0 + a2) + (a1 + a3), reduced likewise, then the
 *    last len % 64 products added in f64.
 *  Checked under gdb against the prebuilt binary's ggml_vec_dot_f16: 5 calls (64 and 256 long),
 *  bit for bit, where the batch order and an exact sum each differ in one. */
export function dotLanes(x: ArrayLike<number>, xo: number, xs: number, y: ArrayLike<number>, yo: number, n: number, len: number, m: number, batch: boolean): number {
  const w = batch && len % SIMD_F32 === 0 && m % 4 === 0 ? SIMD_F32 : 4 * SIMD_F32;
  const np = len - (len % w);
  lanes.fill(0, 0, w);
  let i = 0;
  for (; i < Math.min(n, np); i++) lanes[i % w] = fma32(x[xo + i * xs], y[yo + i], lanes[i % w]);
  if (w > SIMD_F32) {
    for (let u = 0; u < 2 * SIMD_F32; u++) lanes[u] = fr(lanes[u] + lanes[u + 2 * SIMD_F32]);
    for (let u = 0; u < SIMD_F32; u++) lanes[u] = fr(lanes[u] + lanes[u + SIMD_F32]);
  }
  let sum = reduceAdd16(lanes, 0);
  for (; i < n; i++) sum += x[xo + i * xs] * y[yo + i];
  return fr(sum);
}
