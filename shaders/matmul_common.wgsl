// Shared by the prefill kernels (matmul.wgsl, the software shape; matmul_hw.wgsl, the hardware
// shape): their Params and bindings, and where a software tile's tokens start. Token t reads
// act + t * act_tok and writes y + y_off + t * y_tok; rows outside [row0, row_end) live in
// another buffer of a split weight.

struct Params {
  k: u32,          // columns
  n: u32,          // rows
  q_off: u32,      // regions of this buffer (words)
  h_off: u32,
  m_off: u32,
  q4: u32,         // q_off / 4, m_off / 4 (vec4 offsets)
  m4: u32,
  row0: u32,       // rows held by this buffer
  row_end: u32,
  tokens: u32,     // tokens in the batch
  act_tok: u32,    // blocks between tokens' activations
  y_off: u32,      // float offset of token 0's output
  y_tok: u32,      // floats between tokens' outputs
  has_bias: u32,
  mode: u32,       // matmul_hw.wgsl: 0 store [+ bias], 1 add, 2 gated SiLU, 3 gated GELU (matmul.wgsl: entry points)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> act: array<A32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

// 0, from a value the compiler cannot know (dot32.wgsl opq4).
fn rt_zero() -> u32 {
  return select(0u, 1u, params.k == 0u);
}

// Where the activations of tokens t..t+3 of a tile start (past the batch's last token, the last
// again), in blocks.
fn token_blocks(t: u32) -> vec4<u32> {
  let i = vec4<u32>(t) + vec4<u32>(0u, 1u, 2u, 3u);
  return min(i, vec4<u32>(params.tokens - 1u)) * params.act_tok;
}
