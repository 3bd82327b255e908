// The 8 rows' dot products of matvec.wgsl, near-exactly: block products (dot32) summed with
// their rounding errors carried (TwoSum), for every weight type.

// Dot products of rows fr..fr+7 (clamped into this buffer) with the activation at vec4 abase.
fn dot_rows(fr: u32, abase: u32) -> Rows {
  let nb = (params.k >> 5u);
  let g = row_blocks(fr - params.row0);
  var acc = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  var err = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    // the activation block (the costly read: a gather per lane) serves all 8 rows
    let x = load_a32(abase, b);
    let va = vec4<f32>(dot32(load_w32(g.a.x + b), x), dot32(load_w32(g.a.y + b), x), dot32(load_w32(g.a.z + b), x), dot32(load_w32(g.a.w + b), x));
    let vb = vec4<f32>(dot32(load_w32(g.b.x + b), x), dot32(load_w32(g.b.y + b), x), dot32(load_w32(g.b.z + b), x), dot32(load_w32(g.b.w + b), x));
    acc.a = two_sum4(acc.a, va, &err.a);
    acc.b = two_sum4(acc.b, vb, &err.b);
  }
  return Rows(acc.a + err.a, acc.b + err.b);
}
