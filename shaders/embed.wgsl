// Embedding lookup (ggml_get_rows): rows of a weight matrix of any type, dequantized, for a list of
// token ids, times an optional scale. Needs half.wgsl, quant_common.wgsl, a q_<type>.wgsl and
// pos_scale.wgsl first.
// One workgroup per token; invocations over the row's 32-blocks.

struct Params {
  k: u32,        // elements per row
  q_off: u32,    // regions of this buffer (words)
  h_off: u32,
  m_off: u32,
  q4: u32,       // q_off / 4, m_off / 4 (vec4 offsets)
  m4: u32,
  row0: u32,     // rows held by this buffer: [row0, row_end)
  row_end: u32,
  tok_off: u32,  // offset of token 0 in tokens
  y_off: u32,    // float offset of token 0's output row
  s32: u32,      // 1 for Q4_1/Q5_1, whose m.x applies to the whole block (see quant_common.wgsl)
  scale: f32,    // multiplier (embedding scale), 1 for none
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> tokens: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 64;
// q of element j comes 1/pos_scale(j) too large, and c applies to the elements in the sums
// (pos_scale.wgsl: the weight type's POS and B3).

@compute @workgroup_size(WG)
fn embed(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row = tokens[params.tok_off + wg.x];
  if (row < params.row0 || row >= params.row_end) { return; }
  let nb = (params.k >> 5u);
  let o = params.y_off + wg.x * params.k;
  for (var b = t; b < nb; b += WG) {
    let w = load_w32((row - params.row0) * nb + b);
    let m_hi = select(w.m.y, w.m.x + w.m.y, params.s32 == 1u);
    let q = array<vec4<f32>, 8>(w.q0, w.q1, w.q2, w.q3, w.q4, w.q5, w.q6, w.q7);
    for (var j = 0u; j < 32u; j++) {
      let hi = j >= 16u;
      let c = select(0.0, w.c, in_sum(j));
      let v = select(w.d.x, w.d.y, hi) * (q[j / 4u][j % 4u] * pos_scale(j) + c) + select(w.m.x, m_hi, hi);
      y[o + 32u * b + j] = v * params.scale;
    }
  }
}
