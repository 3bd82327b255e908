// A tile's products for matmul.wgsl in ggml's order, for the 32-block types with one scale per
// block (IQ4_NL, Q4_0, MXFP4; 'ggml' numerics, a multiple of 8 rows): llama.cpp's repacked gemm
// and gemv both add each block's integer sum times d_w·d_a into the row's f32 sum with one FMA,
// block after block (dot32.wgsl ggml_step4; matvec_ggml32.wgsl).

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let g0 = min(r, last) * nb;
  let g1 = min(r + 1u, last) * nb;
  let g2 = min(r + 2u, last) * nb;
  let g3 = min(r + 3u, last) * nb;
  let g4 = min(r + 4u, last) * nb;
  let g5 = min(r + 5u, last) * nb;
  let g6 = min(r + 6u, last) * nb;
  let g7 = min(r + 7u, last) * nb;
  let tl = params.tokens - 1u;
  let a0 = min(t, tl) * params.act_tok;
  let a1 = min(t + 1u, tl) * params.act_tok;
  let a2 = min(t + 2u, tl) * params.act_tok;
  let a3 = min(t + 3u, tl) * params.act_tok;
  var v = Tile(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    let x0 = load_a32(a0, b);
    let x1 = load_a32(a1, b);
    let x2 = load_a32(a2, b);
    let x3 = load_a32(a3, b);
    let w0 = load_w32(g0 + b);
    let w1v = load_w32(g1 + b);
    let w2 = load_w32(g2 + b);
    let w3 = load_w32(g3 + b);
    v.t0a = ggml_step4(w0, w1v, w2, w3, x0, v.t0a);
    v.t1a = ggml_step4(w0, w1v, w2, w3, x1, v.t1a);
    v.t2a = ggml_step4(w0, w1v, w2, w3, x2, v.t2a);
    v.t3a = ggml_step4(w0, w1v, w2, w3, x3, v.t3a);
    let w4v = load_w32(g4 + b);
    let w5 = load_w32(g5 + b);
    let w6 = load_w32(g6 + b);
    let w7 = load_w32(g7 + b);
    v.t0b = ggml_step4(w4v, w5, w6, w7, x0, v.t0b);
    v.t1b = ggml_step4(w4v, w5, w6, w7, x1, v.t1b);
    v.t2b = ggml_step4(w4v, w5, w6, w7, x2, v.t2b);
    v.t3b = ggml_step4(w4v, w5, w6, w7, x3, v.t3b);
  }
  return v;
}
