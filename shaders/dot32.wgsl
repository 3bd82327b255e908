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
