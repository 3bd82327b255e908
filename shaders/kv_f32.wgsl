// KV cache element type, f32 (the path for adapters without shader-f16): comes first in
// rope.wgsl's and attention.wgsl's kernels; kv_f16.wgsl is the other choice.
alias KV = f32;
alias KV4 = vec4<f32>;
const KV_F16: bool = false;
fn kv_round(v: f32) -> f32 { return v; }
