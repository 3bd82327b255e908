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
  let g = row_blocks(r);
  let a = token_blocks(t);
  var sa = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var sb = sa;
  var ea = sa;
  var eb = sa;
  for (var b = 0u; b < nb; b++) {
    // the 4 activation blocks (the costly reads: 36 gathered floats each) serve all 8 rows
    let x = array<A32, 4>(load_a32(a.x, b), load_a32(a.y, b), load_a32(a.z, b), load_a32(a.w, b));
    acc4(load_w32(g.a.x + b), load_w32(g.a.y + b), load_w32(g.a.z + b), load_w32(g.a.w + b), x, &sa, &ea);
    acc4(load_w32(g.b.x + b), load_w32(g.b.y + b), load_w32(g.b.z + b), load_w32(g.b.w + b), x, &sb, &eb);
  }
  return Tile(sa[0] + ea[0], sb[0] + eb[0], sa[1] + ea[1], sb[1] + eb[1], sa[2] + ea[2], sb[2] + eb[2], sa[3] + ea[3], sb[3] + eb[3]);
}
