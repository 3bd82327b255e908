// The 8 rows' dot products of matvec.wgsl in ggml's order, for the 32-block types with one scale
// per block and Q8_0 activations (IQ4_NL, Q4_0, MXFP4; 'ggml' numerics, matrices of a multiple of
// 8 rows): llama.cpp's x86 build repacks these and its gemv (repack.cpp) accumulates, per row,
// each block's integer sum (int32, dot32.wgsl) times d_w·d_a (exact: an f16, or a power of two,
// times an f16) with one FMA, block after block; fma_rn4 rounds it into the sum once as that
// FMA does, so each row comes out as ggml's f32 (src/reference/ggml-dot.ts dotNibble32).

// Dot products of rows fr..fr+7 (clamped into this buffer) with the activation at vec4 abase.
fn dot_rows(fr: u32, abase: u32) -> Rows {
  let nb = (params.k >> 5u);
  let g = row_blocks(fr - params.row0);
  var acc = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    let x = load_a32(abase, b);
    acc.a = ggml_step4(load_w32(g.a.x + b), load_w32(g.a.y + b), load_w32(g.a.z + b), load_w32(g.a.w + b), x, acc.a);
    acc.b = ggml_step4(load_w32(g.b.x + b), load_w32(g.b.y + b), load_w32(g.b.z + b), load_w32(g.b.w + b), x, acc.b);
  }
  return acc;
}
