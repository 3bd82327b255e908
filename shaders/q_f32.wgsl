// F32 weights: 32 words per block in the quant region.
fn load_w32(g: u32) -> W32 {
  let o = params.q_off / 4u + g * 8u;
  var w: W32;
  for (var i = 0u; i < 8u; i++) { w.q[i] = bitcast<vec4<f32>>(w4[o + i]); }
  w.d = vec2<f32>(1.0);
  w.m = vec2<f32>(0.0);
  return w;
}
