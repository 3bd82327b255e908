// A tile's products for matmul.wgsl, near-exactly: block products (dot32) summed with their
// rounding errors carried (TwoSum), for every weight type.

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
