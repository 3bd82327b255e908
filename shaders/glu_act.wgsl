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

fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
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
