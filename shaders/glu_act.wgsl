// The gate activations of the gated products (SwiGLU, GeGLU) in the decode and prefill kernels;
// f16_round comes from half.wgsl.

// ggml's GELU (tanh form) in f32, in C's evaluation order.
fn gelu_f32(v: f32) -> f32 {
  let inner = (0.7978845608028654 * v) * (1.0 + (0.044715 * v) * v);
  return (0.5 * v) * (1.0 + tanh(inner));
}

// 1: GELU as ggml's CPU backend computes it (GGML_GELU_FP16): the input rounded to f16 and the
// result read from a table of f16 values; 0: plain f32 GELU.
override GGML_GELU: u32 = 1;

fn gelu(v: f32) -> f32 {
  if (GGML_GELU == 0u) { return gelu_f32(v); }
  if (v <= -10.0) { return 0.0; }
  if (v >= 10.0) { return v; }
  return f16_round(gelu_f32(f16_round(v)));
}

// 1: SiLU as ggml's CPU backend computes it (ggml_vec_swiglu_f32 on AVX-512): exp(-v) by ggml_v_expf
// below, llama.cpp's values bit for bit; 0: the WGSL exp (matvec.ts gluOverrides says where).
override GGML_SILU: u32 = 0;

// a * b + c rounded once (dot32.wgsl's emulated FMA: WGSL's fma is not fused on SwiftShader or
// llvmpipe), for one value.
fn fma1(a: f32, b: f32, c: f32) -> f32 {
  return fma_rn4(vec4<f32>(a), vec4<f32>(b), vec4<f32>(c)).x;
}

// ggml_v_expf (ggml-cpu/vec.h, one AVX-512 lane) for n = round(x / ln2) <= 128: n by adding 1.5 *
// 2^23, b = x - n ln2 in two FMA steps, a degree-5 polynomial in b by FMA steps, times 2^n (one
// rounding, as _mm512_scalef_ps; 2^128 and up overflow to inf).
fn ggml_v_expf(x: f32, n: f32) -> f32 {
  let b = fma1(-n, 0.000001428606765330187045037746429443359375, fma1(-n, 0.693145751953125, x)); // ln2: 0x1.62e4p-1 + 0x1.7f7d1cp-20
  let u = b * b;
  let p = fma1(fma1(0.00824739038944244384765625, b, 0.0418997667729854583740234375), u, // 0x1.0e4020p-7, 0x1.573e2ep-5
               fma1(0.16668395698070526123046875, b, 0.4999912679195404052734375));      // 0x1.555e66p-3, 0x1.fffdb6p-2
  let j = fma1(p, u, fma1(0.99999940395355224609375, b, 1.0));                             // 0x1.ffffecp-1
  return ldexp(j, i32(n));
}

// ggml's SiLU (ggml_v_silu: v / (1 + ggml_v_expf(-v))) takes the vector exp on every full vector of
// 16 values and libm's expf on the rest of a row; a gated row is whole 32-blocks (its down
// product's activation), so every element here takes the vector exp.
fn silu(v: f32) -> f32 {
  if (GGML_SILU == 0u) { return v / (1.0 + exp(-v)); }
  let n = fma1(-v, 1.44269502162933349609375, 12582912.0) - 12582912.0; // 0x1.715476p+0, 0x1.8p23
  // exp(-v) of 2^129 and up (ggml: inf, also for n > 192): v / inf
  if (n > 128.0) { return -0.0; }
  return v / (1.0 + ggml_v_expf(-v, n));
}

// gpt-oss's clamped SwiGLU of gate g and up u (ggml swiglu_oai: alpha 1.702, limit 7), in C's order.
fn swiglu_oai(g: f32, u: f32) -> f32 {
  let x = min(g, 7.0);
  let y = clamp(u, -7.0, 7.0);
  return (x / (1.0 + exp(1.702 * -x))) * (y + 1.0);
}

// The gated product of the decode kernels: 0 SwiGLU, 1 GeGLU, 2 gpt-oss's clamped SwiGLU.
fn gated(kind: u32, g: f32, u: f32) -> f32 {
  if (kind == 2u) { return swiglu_oai(g, u); }
  return select(silu(g), gelu(g), kind == 1u) * u;
}
