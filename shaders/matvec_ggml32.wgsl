// The 8 rows' dot products of matvec.wgsl in ggml's order, for the 32-block types with one scale
// per block and Q8_0 activations (IQ4_NL, Q4_0, MXFP4; 'ggml' numerics, matrices of a multiple of
// 8 rows): llama.cpp's x86 build repacks these and its gemv (repack.cpp) accumulates, per row,
// each block's integer sum (int32, dot32.wgsl) times d_w·d_a (exact: an f16, or a power of two,
// times an f16) with one FMA, block after block; fma_rn4 rounds it into the sum once as that
// FMA does, so each row comes out as ggml's f32 (src/reference/ggml-dot.ts dotNibble32).

// Dot products of rows fr..fr+7 (clamped into this buffer) with the activation at vec4 abase.
fn dot_rows(fr: u32, abase: u32) -> Rows {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let l0 = fr - params.row0;
  let g0 = min(l0, last) * nb;
  let g1 = min(l0 + 1u, last) * nb;
  let g2 = min(l0 + 2u, last) * nb;
  let g3 = min(l0 + 3u, last) * nb;
  let g4 = min(l0 + 4u, last) * nb;
  let g5 = min(l0 + 5u, last) * nb;
  let g6 = min(l0 + 6u, last) * nb;
  let g7 = min(l0 + 7u, last) * nb;
  var acc = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    let x = load_a32(abase, b);
    let w0 = load_w32(g0 + b);
    let w1v = load_w32(g1 + b);
    let w2 = load_w32(g2 + b);
    let w3 = load_w32(g3 + b);
    let w4v = load_w32(g4 + b);
    let w5 = load_w32(g5 + b);
    let w6 = load_w32(g6 + b);
    let w7 = load_w32(g7 + b);
    acc.a = ggml_step4(w0, w1v, w2, w3, x, acc.a);
    acc.b = ggml_step4(w4v, w5, w6, w7, x, acc.b);
  }
  return acc;
}
