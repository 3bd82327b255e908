// A tile's products for matmul.wgsl in ggml's order for Q8_0 (ggml_lanes.wgsl): each token's rows
// as matvec's, the weight blocks read once per token (8 rows' lanes are 64 f32 already). A loop
// the compiler cannot unroll (rt_zero): 4 inlined copies took lavapipe 14 s to compile.

fn tile(r: u32, t: u32) -> Tile {
  let g = row_blocks(r);
  let a = token_blocks(t);
  var s: array<array<vec4<f32>, 2>, 4>;
  for (var j = 0u; j < 4u + rt_zero(); j++) {
    s[j] = lane_rows(g, a[j]);
  }
  return Tile(s[0][0], s[0][1], s[1][0], s[1][1], s[2][0], s[2][1], s[3][0], s[3][1]);
}
