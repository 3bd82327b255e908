// BF16 weights: 16 words per block; a bf16 is the top half of an f32, so the low half moves up
// with a multiply and the high half is masked in place.
fn bf16x2(v: u32) -> vec2<f32> {
  return bitcast<vec2<f32>>(vec2<u32>(v * 65536u, v & 0xffff0000u));
}

fn load_w32(g: u32) -> W32 {
  let o = params.q_off / 4u + g * 4u;
  var w: W32;
  for (var i = 0u; i < 4u; i++) {
    let v = w4[o + i];
    w.q[2u * i] = vec4<f32>(bf16x2(v.x), bf16x2(v.y));
    w.q[2u * i + 1u] = vec4<f32>(bf16x2(v.z), bf16x2(v.w));
  }
  w.d = vec2<f32>(1.0);
  w.m = vec2<f32>(0.0);
  return w;
}
