// Matrix products for a batch of tokens (prefill): Y[t][r] = sum_k W[r][k] A[t][k] for any weight
// type, in the shape for software adapters (matmul_hw.wgsl: for GPUs); half.wgsl,
// quant_common.wgsl, a q_<type>.wgsl, dot32.wgsl, glu_act.wgsl and matmul_common.wgsl (Params,
// bindings) come first. One invocation computes a tile of R = 8 rows by 4 tokens, so each
// dequantized weight block serves 4 tokens and each activation block 8 rows; a workgroup WG
// invocations along the rows.
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

// Dot products of 4 weight rows with 4 tokens' blocks, accumulated (with TwoSum) into s/e.
fn acc4(w0: W32, w1v: W32, w2: W32, w3: W32, x: array<A32, 4>, s: ptr<function, array<vec4<f32>, 4>>, e: ptr<function, array<vec4<f32>, 4>>) {
  (*s)[0] = two_sum4((*s)[0], vec4<f32>(dot32(w0, x[0]), dot32(w1v, x[0]), dot32(w2, x[0]), dot32(w3, x[0])), &(*e)[0]);
  (*s)[1] = two_sum4((*s)[1], vec4<f32>(dot32(w0, x[1]), dot32(w1v, x[1]), dot32(w2, x[1]), dot32(w3, x[1])), &(*e)[1]);
  (*s)[2] = two_sum4((*s)[2], vec4<f32>(dot32(w0, x[2]), dot32(w1v, x[2]), dot32(w2, x[2]), dot32(w3, x[2])), &(*e)[2]);
  (*s)[3] = two_sum4((*s)[3], vec4<f32>(dot32(w0, x[3]), dot32(w1v, x[3]), dot32(w2, x[3]), dot32(w3, x[3])), &(*e)[3]);
}

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  var g: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) { g[i] = min(r + i, last) * nb; }
  let tl = params.tokens - 1u;
  let a0 = min(t, tl) * params.act_tok;
  let a1 = min(t + 1u, tl) * params.act_tok;
  let a2 = min(t + 2u, tl) * params.act_tok;
  let a3 = min(t + 3u, tl) * params.act_tok;
  var sa = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var sb = sa;
  var ea = sa;
  var eb = sa;
  let g0 = g[0]; let g1 = g[1]; let g2 = g[2]; let g3 = g[3];
  let g4 = g[4]; let g5 = g[5]; let g6 = g[6]; let g7 = g[7];
  for (var b = 0u; b < nb; b++) {
    // the 4 activation blocks (the costly reads: 36 gathered floats each) serve all 8 rows
    let x = array<A32, 4>(load_a32(a0, b), load_a32(a1, b), load_a32(a2, b), load_a32(a3, b));
    acc4(load_w32(g0 + b), load_w32(g1 + b), load_w32(g2 + b), load_w32(g3 + b), x, &sa, &ea);
    acc4(load_w32(g4 + b), load_w32(g5 + b), load_w32(g6 + b), load_w32(g7 + b), x, &sb, &eb);
  }
  return Tile(sa[0] + ea[0], sb[0] + eb[0], sa[1] + ea[1], sb[1] + eb[1], sa[2] + ea[2], sb[2] + eb[2], sa[3] + ea[3], sb[3] + eb[3]);
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
