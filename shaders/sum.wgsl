// Sums of squares for RMSNorm, kept as unevaluated pairs (sum, rounding error) with Knuth's
// TwoSum, so that they round like ggml's double accumulation: the norm's f32 scale then comes out
// the same as llama.cpp's (an ulp of difference flips Q8 roundings downstream and, through them,
// routing decisions and tokens).

fn two_sum(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let s = a.x + b.x;
  let bb = s - a.x;
  let err = (a.x - (s - bb)) + (b.x - bb);
  return vec2<f32>(s, err + a.y + b.y);
}

// ggml_compute_forward_rms_norm_f32: 1 / sqrtf((float)(sum / n) + eps), the sum given as a pair.
fn rms_scale_of(sum: vec2<f32>, n: u32, eps: f32) -> f32 {
  let nf = f32(n);
  let q = sum.x / nf;
  let mean = q + ((sum.x - q * nf) + sum.y) / nf;
  return 1.0 / sqrt(mean + eps);
}
