// The block product both decode (matvec*.wgsl) and prefill (matmul.wgsl) kernels use: one
// quantized 32-block of weights (W32 from q_<type>.wgsl) times 32 converted activations, and the
// TwoSum that carries each row's rounding errors. The kernel declares `act: array<A32>`.

// 32 activation values and their sums S (quant_act.wgsl): one struct per block, read in one
// access (see quant_act.wgsl); a value, never a `var`.
struct A32 {
  v0: vec4<f32>,
  v1: vec4<f32>,
  v2: vec4<f32>,
  v3: vec4<f32>,
  v4: vec4<f32>,
  v5: vec4<f32>,
  v6: vec4<f32>,
  v7: vec4<f32>,
  s: vec4<f32>, // (S.x, S.y, 0, 0)
}

fn load_a32(base: u32, b: u32) -> A32 {
  return act[base + b];
}

fn dot32(w: W32, x: A32) -> f32 {
  let lo = fma(w.q3, x.v3, fma(w.q2, x.v2, fma(w.q1, x.v1, w.q0 * x.v0)));
  let hi = fma(w.q7, x.v7, fma(w.q6, x.v6, fma(w.q5, x.v5, w.q4 * x.v4)));
  let sl = (lo.x + lo.y) + (lo.z + lo.w);
  let sh = (hi.x + hi.y) + (hi.z + hi.w);
  // one rounding of the block's exact sum when both halves share a scale (see quant_common.wgsl)
  let split = w.d.x * (sl + w.c * x.s.x) + w.d.y * (sh + w.c * x.s.y);
  let ds = select(split, w.d.x * ((sl + sh) + w.c * (x.s.x + x.s.y)), w.d.x == w.d.y);
  return ds + w.m.x * x.s.x + w.m.y * x.s.y;
}

// a + b as (sum, error) for 4 rows at once (TwoSum): block results are summed with their
// rounding errors carried, so a row's dot product is close to correctly rounded, as the CPU
// reference's float64 sums are; llama.cpp's own sum is within an ulp or two of it.
fn two_sum4(a: vec4<f32>, b: vec4<f32>, err: ptr<function, vec4<f32>>) -> vec4<f32> {
  let s = a + b;
  let bb = s - a;
  *err += (a - (s - bb)) + (b - bb);
  return s;
}

// ggml's order ('ggml' numerics, weight types whose x86 kernels ggml-dot.ts emulates): a block's
// integer sum times d_w·d_a accumulated one f32 rounding (an FMA) per block instead of with TwoSum.

// (sum of the products of elements 0..15, of 16..31): within a few ulps of the activation's scale
// times an integer (the scale times Σ q_w q_a of the half).
fn halves32(w: W32, x: A32) -> vec2<f32> {
  let lo = fma(w.q3, x.v3, fma(w.q2, x.v2, fma(w.q1, x.v1, w.q0 * x.v0)));
  let hi = fma(w.q7, x.v7, fma(w.q6, x.v6, fma(w.q5, x.v5, w.q4 * x.v4)));
  return vec2<f32>((lo.x + lo.y) + (lo.z + lo.w), (hi.x + hi.y) + (hi.z + hi.w));
}

// A 32-block type with one scale per block (IQ4_NL, Q4_0, MXFP4: d.x == d.y, m = 0) and a Q8_0
// activation (d_a = x.s.z, inv = 1 / d_a): the block's integer sum Σ q_w q_a. Each half's f32
// sum is d_a times an integer below 16·127·127, off by less than 0.1 d_a (its products of up to
// 25 bits and partial sums round), so rounding it over d_a gives the integer.
fn int32(w: W32, x: A32, inv: f32) -> f32 {
  let h = round(halves32(w, x) * inv);
  let s = round(vec2<f32>(x.s.x, x.s.y) * inv);
  return (h.x + h.y) + w.c * (s.x + s.y);
}

// One block of 4 rows (weights w0..w3) for one token into their f32 sums, as ggml's gemv/gemm.
fn ggml_step4(w0: W32, w1v: W32, w2: W32, w3: W32, x: A32, acc: vec4<f32>) -> vec4<f32> {
  let d8 = x.s.z;
  let inv = select(0.0, 1.0 / d8, d8 != 0.0);
  let n = vec4<f32>(int32(w0, x, inv), int32(w1v, x, inv), int32(w2, x, inv), int32(w3, x, inv));
  return fma_rn4(n, vec4<f32>(w0.d.x, w1v.d.x, w2.d.x, w3.d.x) * d8, acc);
}

// x unchanged, but opaque to the shader compiler: Mesa's NIR (llvmpipe) simplifies float
// expressions such as a - (a - b) to b unless told they are exact, which WGSL cannot say, and that
// would undo the error terms below (measured on lavapipe: 1,080 of 16,384 FMAs wrong without it).
// rt_zero() is 0 from a value the compiler cannot know (the kernel's Params).
fn opq4(x: vec4<f32>) -> vec4<f32> {
  return bitcast<vec4<f32>>(bitcast<vec4<u32>>(x) ^ vec4<u32>(rt_zero()));
}

// a * b + c rounded once to f32 (as an FMA instruction), for 4 lanes: WGSL's fma may be (and on
// SwiftShader and llvmpipe is) a product and a sum rounded apart. Boldo and Melquiond's emulation
// (IEEE TC 2008): the exact product as p + e (Dekker's, with each factor split by masking into
// two halves of 12 significant bits), c + p as s + t (TwoSum), t + e rounded to odd, then s plus
// that rounded to nearest.
fn fma_rn4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
  let p = opq4(a * b);
  let ah = bitcast<vec4<f32>>(bitcast<vec4<u32>>(a) & vec4<u32>(0xfffff000u));
  let al = a - ah;
  let bh = bitcast<vec4<f32>>(bitcast<vec4<u32>>(b) & vec4<u32>(0xfffff000u));
  let bl = b - bh;
  let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  let s = opq4(c + p);
  let sc = opq4(s - c);
  let t = (c - (s - sc)) + (p - sc);
  let v = opq4(t + e);
  let vt = opq4(v - t);
  let r = (t - (v - vt)) + (e - vt);
  // inexact and even: the neighbour towards the exact value (one unit of magnitude up or down)
  let bits = bitcast<vec4<u32>>(v);
  let nudge = select(vec4<u32>(0xffffffffu), vec4<u32>(1u), (r > vec4<f32>(0.0)) == (v > vec4<f32>(0.0)));
  let odd = select(bits, bits + nudge, (r != vec4<f32>(0.0)) & ((bits & vec4<u32>(1u)) == vec4<u32>(0u)));
  return s + bitcast<vec4<f32>>(odd);
}
