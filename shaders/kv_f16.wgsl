// KV cache element type, f16 (shader-f16; llama.cpp's default cache type): K and V stored as
// f16, half the bytes of the f32 cache. attention.wgsl then rounds q and the softmax output to
// f16 as ggml_mul_mat does with an f16 cache (see src/reference/attention.ts). half.wgsl must
// follow: kv_round is its exact round-to-nearest-even (WGSL leaves the rounding of an f32 to f16
// conversion to the implementation).
enable f16;
alias KV = f16;
alias KV4 = vec4<f16>;
const KV_F16: bool = true;
fn kv_round(v: f32) -> f32 { return f16_round(v); }
