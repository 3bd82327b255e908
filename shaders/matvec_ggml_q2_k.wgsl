// The 8 rows' dot products of matvec.wgsl in ggml's order for Q2_K ('ggml' numerics, matrices of
// a multiple of 8 rows: llama.cpp's repacked gemv), ggml_q2_k.wgsl's steps per super-block.

// Dot products of rows fr..fr+7 (clamped into this buffer) with the activation at vec4 abase.
fn dot_rows(fr: u32, abase: u32) -> Rows {
  let nb = (params.k >> 5u);
  let g = row_blocks(fr - params.row0);
  var a = Q2K_ZERO;
  var b4 = Q2K_ZERO;
  for (var b = 0u; b < nb; b++) {
    let x = load_a32(abase, b);
    let flush = (b & 7u) == 7u;
    a = q2k_step4(a, g.a + b, x, flush);
    b4 = q2k_step4(b4, g.b + b, x, flush);
  }
  return Rows(q2k_rows(a), q2k_rows(b4));
}
