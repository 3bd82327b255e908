// A tile's products for matmul.wgsl in ggml's order, for the 32-block types with one scale per
// block (IQ4_NL, Q4_0, MXFP4; 'ggml' numerics, a multiple of 8 rows): llama.cpp's repacked gemm
// and gemv both add each block's integer sum times d_w·d_a into the row's f32 sum with one FMA,
// block after block (dot32.wgsl ggml_step4; matvec_ggml32.wgsl).

// One block of 4 rows (first blocks g) for the tile's 4 tokens (x) into their sums s: each weight
// block is read once for the 4 tokens.
fn step_tokens(g: vec4<u32>, b: u32, x: array<A32, 4>, s: array<vec4<f32>, 4>) -> array<vec4<f32>, 4> {
  let w0 = load_w32(g.x + b);
  let w1v = load_w32(g.y + b);
  let w2 = load_w32(g.z + b);
  let w3 = load_w32(g.w + b);
  return array<vec4<f32>, 4>(ggml_step4(w0, w1v, w2, w3, x[0], s[0]), ggml_step4(w0, w1v, w2, w3, x[1], s[1]), ggml_step4(w0, w1v, w2, w3, x[2], s[2]), ggml_step4(w0, w1v, w2, w3, x[3], s[3]));
}

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let g = row_blocks(r);
  let a = token_blocks(t);
  var sa = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var sb = sa;
  for (var b = 0u; b < nb; b++) {
    let x = array<A32, 4>(load_a32(a.x, b), load_a32(a.y, b), load_a32(a.z, b), load_a32(a.w, b));
    sa = step_tokens(g.a, b, x, sa);
    sb = step_tokens(g.b, b, x, sb);
  }
  return Tile(sa[0], sb[0], sa[1], sb[1], sa[2], sb[2], sa[3], sb[3]);
}
