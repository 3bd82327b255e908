// A tile's products for matmul.wgsl in ggml's order for Q2_K ('ggml' numerics, a multiple of 8
// rows): a tile of 4 tokens is llama.cpp's 4-row gemm, whose integer sums go into the f32 sums
// per 128-half of each super-block; a tile with fewer tokens (the batch's last, partial group)
// its gemv, per super-block (ggml_q2_k.wgsl).

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let ga = vec4<u32>(min(r, last), min(r + 1u, last), min(r + 2u, last), min(r + 3u, last)) * nb;
  let gb = vec4<u32>(min(r + 4u, last), min(r + 5u, last), min(r + 6u, last), min(r + 7u, last)) * nb;
  let tl = params.tokens - 1u;
  let a0 = min(t, tl) * params.act_tok;
  let a1 = min(t + 1u, tl) * params.act_tok;
  let a2 = min(t + 2u, tl) * params.act_tok;
  let a3 = min(t + 3u, tl) * params.act_tok;
  let span = select(7u, 3u, t + 3u < params.tokens); // blocks per flush, less one
  var s0a = Q2K_ZERO; var s1a = Q2K_ZERO; var s2a = Q2K_ZERO; var s3a = Q2K_ZERO;
  var s0b = Q2K_ZERO; var s1b = Q2K_ZERO; var s2b = Q2K_ZERO; var s3b = Q2K_ZERO;
  for (var b = 0u; b < nb; b++) {
    let x0 = load_a32(a0, b);
    let x1 = load_a32(a1, b);
    let x2 = load_a32(a2, b);
    let x3 = load_a32(a3, b);
    let flush = (b & span) == span;
    s0a = q2k_step4(s0a, ga + b, x0, flush);
    s1a = q2k_step4(s1a, ga + b, x1, flush);
    s2a = q2k_step4(s2a, ga + b, x2, flush);
    s3a = q2k_step4(s3a, ga + b, x3, flush);
    s0b = q2k_step4(s0b, gb + b, x0, flush);
    s1b = q2k_step4(s1b, gb + b, x1, flush);
    s2b = q2k_step4(s2b, gb + b, x2, flush);
    s3b = q2k_step4(s3b, gb + b, x3, flush);
  }
  return Tile(q2k_rows(s0a), q2k_rows(s0b), q2k_rows(s1a), q2k_rows(s1b), q2k_rows(s2a), q2k_rows(s2b), q2k_rows(s3a), q2k_rows(s3b));
}
