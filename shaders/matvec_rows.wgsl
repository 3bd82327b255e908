// The 8 rows' dot products of matvec.wgsl, near-exactly: block products (dot32) summed with
// their rounding errors carried (TwoSum), for every weight type.

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
  var err = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    // the activation block (the costly read: a gather per lane) serves all 8 rows
    let x = load_a32(abase, b);
    let va = vec4<f32>(dot32(load_w32(g0 + b), x), dot32(load_w32(g1 + b), x), dot32(load_w32(g2 + b), x), dot32(load_w32(g3 + b), x));
    let vb = vec4<f32>(dot32(load_w32(g4 + b), x), dot32(load_w32(g5 + b), x), dot32(load_w32(g6 + b), x), dot32(load_w32(g7 + b), x));
    acc.a = two_sum4(acc.a, va, &err.a);
    acc.b = two_sum4(acc.b, vb, &err.b);
  }
  return Rows(acc.a + err.a, acc.b + err.b);
}
