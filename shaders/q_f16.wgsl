// F16 weights: 16 words (two halves each, element 2j in the low half) per block.
fn load_w32(g: u32) -> W32 {
  let o = params.q_off / 4u + g * 4u;
  var w: W32;
  for (var i = 0u; i < 4u; i++) {
    let v = w4[o + i];
    w.q[2u * i] = vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y));
    w.q[2u * i + 1u] = vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w));
  }
  w.d = vec2<f32>(1.0);
  w.m = vec2<f32>(0.0);
  return w;
}
