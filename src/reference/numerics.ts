// Scalar arithmetic of the CPU reference, in two flavours chosen by one option:
//
//  'ggml'  — reproduce llama.cpp's CPU backend (ggml-cpu, x86 build with AVX-512, the variant
//            node-llama-cpp loads here) wherever its arithmetic departs from exact math by more
//            than f32 rounding noise: activations are stored as f32, matmul inputs are converted
//            to the weight type's `vec_dot_type` (Q8_0/Q8_1/Q8_K/F16/BF16), GELU reads an f16
//            table, exp in softmax/SiLU is ggml's vectorised polynomial, RoPE's theta accumulates
//            in f32, scales are f32 reciprocals, and the SIMD lanes of the Q8_0 / repacked products
//            (ggml-dot.ts), of the f16 KV cache's attention products and RoPE's FMA contraction.
//            What it does not reproduce: the summation order inside other SIMD dot products (F32
//            weights, the f32 cache) and other FMA contraction chosen by the compiler; both move
//            results by a few f32 ulps only.
//  'exact' — plain float64 math on the dequantized weights: no activation quantization, no f16
//            tables, f64 storage. The WebGPU engine can be compared against either.
//
// Every operation that stores f32 in ggml stores through `num.vec()` storage (a Float32Array in
// 'ggml' mode, so the store itself rounds) or through `num.r()`.

export type Numerics = 'ggml' | 'exact';

/** Activation storage: f32 in 'ggml' mode (as ggml stores it), f64 in 'exact' mode. */
export type Vec = Float32Array | Float64Array;

export interface Num {
  readonly mode: Numerics;
  /** New zeroed activation vector of n elements. */
  vec(n: number): Vec;
  /** Rounds a scalar to the storage precision (Math.fround in 'ggml' mode). */
  r(x: number): number;
  /** 'ggml' only: watches the roundings of activation conversions (see RoundingProbe). */
  readonly probe?: RoundingProbe;
  /** 'ggml' only: this token is in a full group of 4 of a batch, which llama.cpp multiplies by a
   *  repacked matrix with its 4-row gemm (ggml-dot.ts). */
  readonly gemm?: boolean;
  /** 'ggml' only: this token is one of a batch of 2 or more, whose f16 attention products llama.cpp
   *  runs through llamafile_sgemm instead of ggml_vec_dot_f16 (attention.ts). */
  readonly batch?: boolean;
}

/** Watches, and may overturn, the ambiguous roundings of 'ggml' numerics: those where an activation
 *  lies within `window` f32 ulps of the boundary between two representable results (a Q8 integer
 *  q vs q+1, two neighbouring f16 or bf16 values, two GELU table entries). ggml sums dot products
 *  in another order than the reference, so its activations differ by an ulp or so, and at such a
 *  rounding it may land on the other side. Used to explain a disagreement with llama.cpp: if
 *  taking one ambiguous rounding the other way reproduces llama.cpp's logits, the difference is
 *  summation order, not a mistake. */
export interface RoundingProbe {
  /** Half-width of the ambiguous band around a boundary, in f32 ulps of the rounded value (Q8:
   *  in ulps of the top of the quantized range, see roundQ). */
  readonly window: number;
  /** Called for each ambiguous rounding, in evaluation order; true takes the other result. */
  ambiguous(distanceUlps: number, kind: RoundingKind): boolean;
}

/** What is being rounded: a Q8 quant, an activation to f16 / bf16, a Q8 block's f16 scale or
 *  sum, a GELU table index, or the last routed expert (vs the first one left out). */
export type RoundingKind = 'q8' | 'f16' | 'bf16' | 'q8-scale' | 'gelu' | 'route';

const GGML: Num = { mode: 'ggml', vec: (n) => new Float32Array(n), r: Math.fround };
const EXACT: Num = { mode: 'exact', vec: (n) => new Float64Array(n), r: (x) => x };

export function numerics(mode: Numerics, probe?: RoundingProbe): Num {
  if (mode === 'exact') return EXACT;
  return probe ? { ...GGML, probe } : GGML;
}

const ulpBuf = new Float32Array(1);
const ulpBits = new Uint32Array(ulpBuf.buffer);

/** Spacing of f32 values at |x| (the distance to the next larger magnitude). */
export function ulpF32(x: number): number {
  ulpBuf[0] = Math.abs(x);
  const a = ulpBuf[0];
  ulpBits[0]++;
  return ulpBuf[0] - a;
}

/** The unit of distance for Q8 roundings: the f32 ulp at the top of the quantized range (64..127).
 *  The noise in y = x * 127/amax is about an ulp of amax however small x is (x may come from a
 *  cancelling sum), so it is measured on that scale, not in ulps of y. */
const Q8_UNIT = 2 ** -17;

/** Rounds y to an integer half-to-even, asking the probe when y is within its window of .5. */
export function roundQ(num: Num, y: number, kind: RoundingKind = 'q8'): number {
  const q = roundHalfEven(y);
  const p = num.probe;
  if (!p) return q;
  const fl = Math.floor(y);
  const dist = Math.abs(y - fl - 0.5) / Q8_UNIT;
  if (dist > p.window || !p.ambiguous(dist, kind)) return q;
  return q === fl ? fl + 1 : fl;
}

/** Rounds x with `round` (to f16 or bf16, returning the rounded value) and, when x is within the
 *  probe's window of the midpoint between the two neighbours `lo` <= x <= `hi`, may take the
 *  other neighbour. `neighbours` gives the two candidates around x. */
export function roundTo(num: Num, x: number, round: (x: number) => number, neighbours: (x: number) => [number, number], kind: RoundingKind): number {
  const r = round(x);
  const p = num.probe;
  if (!p || !Number.isFinite(x)) return r;
  const [lo, hi] = neighbours(x);
  if (lo === hi) return r;
  const dist = Math.abs(x - (lo + hi) / 2) / ulpF32(x);
  if (dist > p.window || !p.ambiguous(dist, kind)) return r;
  return r === lo ? hi : lo;
}

export const fr = Math.fround;

/** f32 fused multiply-add: a*b is exact in f64 (24+24 bits), so one f64 add and one f32 rounding.
 *  (Double rounding can differ from a true FMA only when the f64 sum is inexact and lands on an
 *  f32 midpoint: about one case in 2^29.) */
export function fma32(a: number, b: number, c: number): number {
  return fr(a * b + c);
}

/** Round half to even, as `_mm256_round_ps(_MM_ROUND_NEAREST)` and ggml's `nearest_int`. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half rounds up (toward +inf)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** expf of glibc: correctly rounded f32 in practice; Math.exp is f64, so rounding it once gives
 *  the same f32 except in rare double-rounding cases. */
export function expf(x: number): number {
  return fr(Math.exp(x));
}

// ggml_v_expf, AVX-512 flavour (ggml-cpu/vec.h, "adapted from arm limited optimized routine"):
// n = round(x / ln2) via the 1.5*2^23 trick, b = x - n*ln2 in two FMA steps, a degree-5 polynomial
// in b, then scalef by 2^n. Max error 1.45 ulp + 0.5; |n| > 192 flushes to 0 or +inf.
/** A C hex-float literal ("0x1.715476p+0") as a number. */
export function hexFloat(s: string): number {
  const m = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i.exec(s);
  if (!m) throw new Error(`not a hex float: ${s}`);
  const frac = m[3] ?? '';
  const mant = parseInt(m[2] + frac, 16) / 16 ** frac.length;
  return (m[1] ? -1 : 1) * mant * 2 ** Number(m[4]);
}
const R = hexFloat('0x1.8p23');
const LOG2E = hexFloat('0x1.715476p+0');
const LN2_HI = hexFloat('0x1.62e4p-1');
const LN2_LO = hexFloat('0x1.7f7d1cp-20');
const C5 = hexFloat('0x1.0e4020p-7');
const C4 = hexFloat('0x1.573e2ep-5');
const C3 = hexFloat('0x1.555e66p-3');
const C2 = hexFloat('0x1.fffdb6p-2');
const C1 = hexFloat('0x1.ffffecp-1');

/** One lane of ggml_v_expf (AVX-512): the exp that ggml's softmax and SiLU use on every full
 *  vector of 16 floats. The input must be an f32 value. */
export function vExpf(x: number): number {
  const z = fma32(x, LOG2E, R);
  const n = fr(z - R);
  const b = fma32(-n, LN2_LO, fma32(-n, LN2_HI, x));
  if (Math.abs(n) > 192) return n <= 0 ? 0 : Infinity; // NaN compares false: stays NaN below
  const u = fr(b * b);
  const j = fma32(fma32(fma32(C5, b, C4), u, fma32(C3, b, C2)), u, fma32(C1, b, 1));
  return fr(j * 2 ** n); // _mm512_scalef_ps: exact scaling, one rounding (subnormals included)
}

/** _mm512_reduce_add_ps of 16 lanes at x[o..o+16), in GCC's order: halves, quarters, pairs. */
export function reduceAdd16(x: ArrayLike<number>, o: number): number {
  const t3 = new Array<number>(8);
  for (let i = 0; i < 8; i++) t3[i] = fr(x[o + i + 8] + x[o + i]);
  const t6 = [0, 1, 2, 3].map((i) => fr(t3[i + 4] + t3[i]));
  return fr(fr(t6[0] + t6[2]) + fr(t6[1] + t6[3]));
}

/** The lane count of ggml's vectorised loops on this build (AVX-512: 16 floats). Elements past
 *  the last full vector of a row take the scalar path (libm expf). */
export const SIMD_F32 = 16;
