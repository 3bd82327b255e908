// Elementwise and row operations of the reference forward pass. Each follows the ggml-cpu kernel
// named in its comment (ggml/src/ggml-cpu/ops.cpp, vec.h, vec.cpp) in 'ggml' numerics, and plain
// float64 math in 'exact' numerics.
import { f16ToF32, f32ToF16, roundF16 } from '../gguf/half.ts';
import { f16Neighbours } from './matmul.ts';
import type { RopeConstants } from '../model/plan.ts';
import { expf, fma32, fr, reduceAdd16, roundTo, SIMD_F32, vExpf, type Num, type Vec } from './numerics.ts';

/** RMSNorm of each `len`-element row of x, times w (broadcast over rows; null = no weight).
 *  ggml_compute_forward_rms_norm_f32: sum of f32 squares in double, mean and 1/sqrt in f32,
 *  then x*scale stored, then ggml_mul by the weight. */
export function rmsNorm(num: Num, x: Vec, w: ArrayLike<number> | null, eps: number, len = x.length): Vec {
  const y = num.vec(x.length);
  const r = num.r;
  for (let o = 0; o < x.length; o += len) {
    let sum = 0;
    for (let i = 0; i < len; i++) sum += r(x[o + i] * x[o + i]);
    const mean = r(sum / len);
    const scale = r(1 / r(Math.sqrt(r(mean + eps))));
    for (let i = 0; i < len; i++) {
      const v = r(x[o + i] * scale);
      y[o + i] = w ? v * w[i] : v;
    }
  }
  return y;
}

export type RopeMode = 'norm' | 'neox';

/** cos and sin of the nDims/2 pairs' angles at position pos (plan.consts.rope, freqFactors =
 *  rope_freqs). ggml (ops.cpp ggml_rope_cache_init, rope_yarn): theta starts at pos and is
 *  multiplied by theta_scale = powf(base, -2/nDims) per pair in f32; per pair, the unscaled angle
 *  theta / freqFactor and the scaled one freqScale times it are mixed by YaRN's ramp (1 below
 *  corrDims[0], 0 above corrDims[1]) times extFactor; cos/sin (f32) times attnFactor, which YaRN
 *  multiplies by 1 + 0.1 ln(1/freqScale). 'exact': the same formulas in float64. */
export function ropeCosSin(num: Num, pos: number, nDims: number, c: RopeConstants, freqFactors?: ArrayLike<number>): { cos: Float64Array; sin: Float64Array } {
  const half = nDims / 2;
  const cos = new Float64Array(half), sin = new Float64Array(half);
  const r = num.r;
  const [lo, hi] = c.corrDims;
  let mscale = c.attnFactor;
  if (c.extFactor !== 0) mscale = r(mscale * r(1 + r(r(0.1) * r(Math.log(r(1 / c.freqScale))))));
  const thetaScale = r(Math.pow(c.base, r(-2 / nDims)));
  let theta = pos;
  for (let i = 0; i < half; i++) {
    const extrap = num.mode === 'ggml' ? r(theta / (freqFactors?.[i] ?? 1)) : pos * Math.pow(c.base, (-2 * i) / nDims) / (freqFactors?.[i] ?? 1);
    const interp = r(c.freqScale * extrap);
    let t = interp;
    if (c.extFactor !== 0) {
      const y = r(r(i - lo) / Math.max(r(0.001), r(hi - lo)));
      const mix = r(r(1 - Math.min(1, Math.max(0, y))) * c.extFactor);
      t = r(r(interp * r(1 - mix)) + r(extrap * mix));
    }
    cos[i] = r(r(Math.cos(t)) * mscale);
    sin[i] = r(r(Math.sin(t)) * mscale);
    theta = r(theta * thetaScale);
  }
  return { cos, sin };
}

/** Rotates, in place, the first nDims elements of each of the nHeads heads (headDim each) of x by
 *  the angles whose cos/sin ropeCosSin gives. 'norm' pairs (x[2i], x[2i+1]); 'neox' pairs (x[i],
 *  x[i + nDims/2]). ggml rotate_pairs: x0 cos - x1 sin, x0 sin + x1 cos, which GCC contracts to
 *  fma(x0, cos, -(x1 sin)) and fma(x0, sin, x1 cos), the inner products rounded to f32 (the
 *  prebuilt x86 binary's neox loop, operands traced; its norm loops contract too, roles not traced,
 *  and this form gives llama Q8_0's logits bit for bit): 'ggml' numerics do the same. Without it,
 *  one K element of a qwen3moe Q8_0 factory model at position 77 was an f16 step off. */
export function rope(num: Num, x: Vec, nHeads: number, headDim: number, nDims: number, cs: { cos: Float64Array; sin: Float64Array }, mode: RopeMode): void {
  const half = nDims / 2;
  const { cos, sin } = cs;
  const r = num.r;
  for (let h = 0; h < nHeads; h++) {
    const o = h * headDim;
    for (let i = 0; i < half; i++) {
      const a = mode === 'norm' ? o + 2 * i : o + i;
      const b = mode === 'norm' ? a + 1 : a + half;
      const x0 = x[a], x1 = x[b];
      if (num.mode === 'ggml') {
        x[a] = fma32(x0, cos[i], -r(x1 * sin[i]));
        x[b] = fma32(x0, sin[i], r(x1 * cos[i]));
      } else {
        x[a] = x0 * cos[i] - x1 * sin[i];
        x[b] = x0 * sin[i] + x1 * cos[i];
      }
    }
  }
}

/** softmax(x * scale) over x[0, n), with x[i] = -Infinity for masked entries.
 *  ggml_compute_forward_soft_max_f32 + ggml_vec_soft_max_f32: scale in f32, exp(x - max) with
 *  the vector exp on each full 16-lane vector and libm expf after it, the sum in double (each
 *  vector reduced in f32 first), then every value times (float)(1/sum). A `sink` logit (attention
 *  sinks: not scaled) joins the max and adds expf(sink - max) to the sum, and has no output. */
export function softmax(num: Num, x: Vec, scale = 1, n = x.length, sink?: number): Vec {
  const y = num.vec(n);
  const w = num.vec(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    w[i] = x[i] * scale;
    if (w[i] > max) max = w[i];
  }
  if (sink !== undefined) max = Math.max(max, sink);
  let sum = 0;
  if (num.mode === 'ggml') {
    let i = 0;
    for (; i + SIMD_F32 <= n; i += SIMD_F32) {
      for (let l = 0; l < SIMD_F32; l++) y[i + l] = vExpf(fr(w[i + l] - max));
      sum += reduceAdd16(y, i);
    }
    for (; i < n; i++) {
      y[i] = expf(fr(w[i] - max));
      sum += y[i];
    }
    if (sink !== undefined) sum += expf(fr(sink - max));
    const inv = fr(1 / sum);
    for (let j = 0; j < n; j++) y[j] = y[j] * inv;
  } else {
    for (let i = 0; i < n; i++) sum += (y[i] = Math.exp(w[i] - max));
    if (sink !== undefined) sum += Math.exp(sink - max);
    for (let i = 0; i < n; i++) y[i] /= sum;
  }
  return y;
}

/** SiLU x/(1+exp(-x)) of element i of a row: ggml_v_silu on full 16-lane vectors, ggml_silu_f32
 *  (libm expf) on the rest. `vector` says which path ggml takes for this element. */
function siluAt(num: Num, x: number, vector: boolean): number {
  if (num.mode === 'exact') return x / (1 + Math.exp(-x));
  return fr(x / fr(1 + (vector ? vExpf(-x) : expf(-x))));
}

/** True when element i of a row of length n falls in a full SIMD vector in ggml's loops. */
const inVector = (i: number, n: number) => i < n - (n % SIMD_F32);

/** SiLU of each element (ggml_vec_silu_f32). */
export function silu(num: Num, x: Vec): Vec {
  const y = num.vec(x.length);
  for (let i = 0; i < x.length; i++) y[i] = siluAt(num, x[i], inVector(i, x.length));
  return y;
}

/** silu(gate) * up (ggml_swiglu_split → ggml_vec_swiglu_f32), rows of `len` elements. */
export function swiglu(num: Num, gate: Vec, up: Vec, len = gate.length): Vec {
  const y = num.vec(gate.length);
  for (let i = 0; i < gate.length; i++) y[i] = num.r(siluAt(num, gate[i], inVector(i % len, len))) * up[i];
  return y;
}

/** gpt-oss's clamped SwiGLU (ggml_compute_forward_swiglu_oai_f32, alpha 1.702, limit 7):
 *  g = min(gate, 7), u = clamp(up, -7, 7), g / (1 + expf(-1.702 g)) * (u + 1), in f32, libm expf. */
export function swigluOai(num: Num, gate: Vec, up: Vec): Vec {
  const y = num.vec(gate.length);
  const alpha = fr(1.702), limit = 7, r = num.r;
  for (let i = 0; i < gate.length; i++) {
    const g = Math.min(gate[i], limit), u = Math.min(Math.max(up[i], -limit), limit);
    const e = num.mode === 'ggml' ? expf(r(alpha * -g)) : Math.exp(-1.702 * g);
    y[i] = r(r(g / r(1 + e)) * r(u + 1));
  }
  return y;
}

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))). ggml defines
// GGML_GELU_FP16 (ggml-cpu/vec.h): for -10 < x < 10 it rounds x to f16 and reads a table of f16
// results computed once in f32 (ggml-cpu.c ggml_cpu_init); x <= -10 gives 0, x >= 10 gives x.
const GELU_COEF_A = fr(0.044715);
const SQRT_2_OVER_PI = fr(0.79788456080286535587989211986876);
let geluTable: Float32Array | undefined;

function geluF32(x: number): number {
  const inner = fr(fr(SQRT_2_OVER_PI * x) * fr(1 + fr(fr(GELU_COEF_A * x) * x)));
  return fr(fr(0.5 * x) * fr(1 + fr(Math.tanh(inner))));
}

/** GELU of one value as ggml's f32 GELU computes it (table lookup in 'ggml' numerics). */
export function geluScalar(num: Num, x: number): number {
  if (num.mode === 'exact') return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)));
  if (x <= -10) return 0;
  if (x >= 10) return x;
  if (!geluTable) {
    geluTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) geluTable[h] = f16ToF32(f32ToF16(geluF32(f16ToF32(h))));
  }
  return geluTable[f32ToF16(roundTo(num, x, roundF16, f16Neighbours, 'gelu'))];
}

/** GELU of each element (ggml_vec_gelu_f32). */
export function gelu(num: Num, x: Vec): Vec {
  const y = num.vec(x.length);
  for (let i = 0; i < x.length; i++) y[i] = geluScalar(num, x[i]);
  return y;
}

/** gelu(gate) * up (ggml_geglu_split → ggml_vec_geglu_f32: x >= 10 gives x * g). */
export function geglu(num: Num, gate: Vec, up: Vec): Vec {
  const y = num.vec(gate.length);
  for (let i = 0; i < gate.length; i++) y[i] = geluScalar(num, gate[i]) * up[i];
  return y;
}

/** tanh (ggml_vec_tanh_f32: libm tanhf). */
export function tanh(num: Num, x: number): number {
  return num.r(Math.tanh(x));
}

/** a + b elementwise (ggml_add), into a new vector. */
export function add(num: Num, a: Vec, b: ArrayLike<number>): Vec {
  const y = num.vec(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  return y;
}

/** a * s elementwise (ggml_scale with s already an f32 in ggml), into a new vector. */
export function scale(num: Num, a: Vec, s: number): Vec {
  const y = num.vec(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i] * s;
  return y;
}

/** Index of the largest value; the first one on ties (llama.cpp's greedy sampler). */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
