// Matrix products for a batch of tokens (prefill): Y[t][r] = sum_k W[r][k] A[t][k] for any weight
// type, in the shape for software adapters (matmul_hw.wgsl: for GPUs); half.wgsl,
// quant_common.wgsl, a q_<type>.wgsl, dot32.wgsl, glu_act.wgsl and matmul_common.wgsl (Params,
// bindings) come first. One invocation computes a tile of R = 8 rows by 4 tokens, so each
// dequantized weight block serves 4 tokens and each activation block 8 rows; a workgroup WG
// invocations along the rows.
//
// tile (a tile's products) comes from the file before this one: matmul_rows.wgsl (TwoSum), or in
// ggml's order for the types ggml-dot.ts emulates, matmul_ggml32.wgsl or matmul_ggml_q2_k.wgsl;
// row_blocks.wgsl (where the 8 rows start in the weight) before that.
//
// dispatch (ceil(n / (8 * WG)), ceil(tokens / 4)). Entry points as matvec.wgsl: matmul,
// matmul_add, matmul_glu_silu, matmul_glu_gelu. Dense weights only (matrix 0).

override WG: u32 = 16;
const R: u32 = 8u;

// Rows r..r+7 (local to this buffer, clamped) for tokens t..t+3 (clamped): per token two vec4
// (rows 0..3 and 4..7).
struct Tile {
  t0a: vec4<f32>, t0b: vec4<f32>,
  t1a: vec4<f32>, t1b: vec4<f32>,
  t2a: vec4<f32>, t2b: vec4<f32>,
  t3a: vec4<f32>, t3b: vec4<f32>,
}

// Row i (0..7) of token j (0..3) of a tile.
fn tile_at(v: Tile, j: u32, i: u32) -> f32 {
  var pair: vec4<f32>;
  switch (j * 2u + (i >> 2u)) {
    case 0u: { pair = v.t0a; }
    case 1u: { pair = v.t0b; }
    case 2u: { pair = v.t1a; }
    case 3u: { pair = v.t1b; }
    case 4u: { pair = v.t2a; }
    case 5u: { pair = v.t2b; }
    case 6u: { pair = v.t3a; }
    default: { pair = v.t3b; }
  }
  return pair[i & 3u];
}

// Writes y (mode 0: store [+ bias], 1: add) for the rows of this buffer that exist.
fn write_tile(v: Tile, r: u32, t: u32, mode: u32) {
  for (var j = 0u; j < 4u; j++) {
    if (t + j >= params.tokens) { return; }
    let o = params.y_off + (t + j) * params.y_tok;
    for (var i = 0u; i < R; i++) {
      let gr = r + i; // global row
      if (gr < params.n && gr >= params.row0 && gr < params.row_end) {
        if (mode == 1u) {
          y[o + gr] = tile_at(v, j, i) + y[o + gr];
        } else {
          var out = tile_at(v, j, i);
          if (params.has_bias == 1u) { out += bias[gr]; }
          y[o + gr] = out;
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let r = gid.x * R;
  let t = wg.y * 4u;
  // parts of a split weight start at multiples of 64 rows (weights.ts), so a tile never straddles
  if (r >= params.n || r < params.row0 || r >= params.row_end) { return; }
  write_tile(tile(r - params.row0, t), r, t, 0u);
}

@compute @workgroup_size(WG)
fn matmul_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let r = gid.x * R;
  let t = wg.y * 4u;
  if (r >= params.n || r < params.row0 || r >= params.row_end) { return; }
  write_tile(tile(r - params.row0, t), r, t, 1u);
}

// Gate rows r.., up rows n/2 + r..; the buffer holds the whole matrix (not split).
fn glu(gid: vec3<u32>, wg: vec3<u32>, is_gelu: bool) {
  let half_n = params.n / 2u;
  let r = gid.x * R;
  let t = wg.y * 4u;
  if (r >= half_n) { return; }
  let g = tile(r, t);
  let u = tile(half_n + r, t);
  for (var j = 0u; j < 4u; j++) {
    if (t + j >= params.tokens) { return; }
    let o = params.y_off + (t + j) * params.y_tok;
    for (var i = 0u; i < R; i++) {
      let gv = tile_at(g, j, i);
      if (r + i < half_n) { y[o + r + i] = select(silu(gv), gelu(gv), is_gelu) * tile_at(u, j, i); }
    }
  }
}

@compute @workgroup_size(WG)
fn matmul_glu_silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, false);
}

@compute @workgroup_size(WG)
fn matmul_glu_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, true);
}
