// A tile's products for matmul.wgsl in ggml's order for Q2_K ('ggml' numerics, a multiple of 8
// rows): a tile of 4 tokens is llama.cpp's 4-row gemm, whose integer sums go into the f32 sums
// per 128-half of each super-block; a tile with fewer tokens (the batch's last, partial group)
// its gemv, per super-block (ggml_q2_k.wgsl).

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let g = row_blocks(r);
  let a = token_blocks(t);
  let span = select(7u, 3u, t + 3u < params.tokens); // blocks per flush, less one
  var s0a = Q2K_ZERO; var s1a = Q2K_ZERO; var s2a = Q2K_ZERO; var s3a = Q2K_ZERO;
  var s0b = Q2K_ZERO; var s1b = Q2K_ZERO; var s2b = Q2K_ZERO; var s3b = Q2K_ZERO;
  for (var b = 0u; b < nb; b++) {
    let x0 = load_a32(a.x, b);
    let x1 = load_a32(a.y, b);
    let x2 = load_a32(a.z, b);
    let x3 = load_a32(a.w, b);
    let flush = (b & span) == span;
    s0a = q2k_step4(s0a, g.a + b, x0, flush);
    s1a = q2k_step4(s1a, g.a + b, x1, flush);
    s2a = q2k_step4(s2a, g.a + b, x2, flush);
    s3a = q2k_step4(s3a, g.a + b, x3, flush);
    s0b = q2k_step4(s0b, g.b + b, x0, flush);
    s1b = q2k_step4(s1b, g.b + b, x1, flush);
    s2b = q2k_step4(s2b, g.b + b, x2, flush);
    s3b = q2k_step4(s3b, g.b + b, x3, flush);
  }
  return Tile(q2k_rows(s0a), q2k_rows(s0b), q2k_rows(s1a), q2k_rows(s1b), q2k_rows(s2a), q2k_rows(s2b), q2k_rows(s3a), q2k_rows(s3b));
}
