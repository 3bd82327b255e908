// Rounding of f32 values to the 16-bit float formats, bit-exact with ggml's conversions.

// Exact round-to-nearest-even to binary16 (subnormals kept, overflow to infinity), as f32.
// quantizeToF16 is not used: SPIR-V lets it flush subnormals to zero.
fn f16_round(v: f32) -> f32 {
  let a = abs(v);
  if (a != a) { return v; } // NaN
  if (a >= 65520.0) { return bitcast<f32>((bitcast<u32>(v) & 0x80000000u) | 0x7f800000u); } // +-inf
  var q = 5.9604644775390625e-8; // 2^-24: the quantum of subnormal halves
  if (a >= 6.103515625e-5) {
    let e = (bitcast<u32>(a) >> 23u); // biased exponent of a
    q = bitcast<f32>((e - 10u) << 23u); // 2^(exp - 10): the quantum of halves in a's binade
  }
  return select(1.0, -1.0, v < 0.0) * round(a / q) * q;
}

// ggml's GGML_FP32_TO_BF16: round to nearest even on the top 16 bits (NaN kept quiet).
fn bf16_round(v: f32) -> f32 {
  let u = bitcast<u32>(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return bitcast<f32>((u | 0x00400000u) & 0xffff0000u); }
  return bitcast<f32>(((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) << 16u);
}
