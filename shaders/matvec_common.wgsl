// Shared by the matrix-vector kernels (matvec.wgsl, the software shape; matvec_hw.wgsl, the
// hardware shape): their Params and bindings, the activation block, a block's dot product, the
// compensated sums and the gated activations. half.wgsl, quant_common.wgsl and the q_<type>.wgsl
// file that supplies load_w32 come before this file; the kernel file after it.

struct Params {
  k: u32,          // columns (elements per row)
  n: u32,          // rows per matrix
  q_off: u32,      // word offset of the quant region in w (multiple of 4)
  h_off: u32,      // word offset of the high-bit region
  m_off: u32,      // word offset of the meta region
  q4: u32,         // q_off / 4 and m_off / 4: vec4 offsets (a division per read costs ~8 adds on SwiftShader)
  m4: u32,
  row0: u32,       // first flattened row held by this buffer
  row_end: u32,    // one past the last
  act_stride: u32, // blocks between the activations of consecutive slots (0: one shared input)
  y_off: u32,      // float offset of slot 0's output
  y_stride: u32,   // floats between consecutive slots' outputs
  ids_off: u32,    // offset of this token's expert list in ids
  use_ids: u32,    // 1: matrix = ids[ids_off + slot]; 0: matrix 0
  has_bias: u32,   // 1: add bias[row]; 2: add bias[expert * n + row], the expert bias_ids[ids index] (store, gated)
  act_tok: u32,    // blocks between tokens' activations
  y_tok: u32,      // floats between tokens' outputs
  ids_tok: u32,    // entries between tokens' expert lists
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> act: array<A32>;
// The slot's expert for its bias (has_bias 2): the router's ids where ids hold pool slots (paging).
@group(0) @binding(4) var<storage, read> bias_ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> ids: array<u32>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;

// 8 rows' results.
struct Rows {
  a: vec4<f32>, // rows 0..3
  b: vec4<f32>, // rows 4..7
}

// The bias of row r (within the matrix) of slot wg.y of token wg.z.
fn bias_at(wg: vec3<u32>, r: u32) -> f32 {
  var e = 0u;
  if (params.has_bias == 2u) { e = bias_ids[params.ids_off + wg.z * params.ids_tok + wg.y]; }
  return bias[e * params.n + r];
}

fn row_at(v: Rows, i: u32) -> f32 {
  return select(v.b[i & 3u], v.a[i & 3u], i < 4u);
}

// 0, from a value the compiler cannot know (dot32.wgsl opq4).
fn rt_zero() -> u32 {
  return select(0u, 1u, params.k == 0u);
}
