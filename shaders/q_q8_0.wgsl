// Q8_0: 8 words of signed bytes per block in the quant region; the f16 scales two per word in
// the meta region.
fn load_w32(g: u32) -> W32 {
  let o = params.q_off / 4u + g * 2u;
  let d = half_of(w1[params.m_off + g / 2u], g % 2u) * P24;
  let a = w4[o];
  let b = w4[o + 1u];
  var w: W32;
  w.q[0] = i8x4_s24(a.x); w.q[1] = i8x4_s24(a.y); w.q[2] = i8x4_s24(a.z); w.q[3] = i8x4_s24(a.w);
  w.q[4] = i8x4_s24(b.x); w.q[5] = i8x4_s24(b.y); w.q[6] = i8x4_s24(b.z); w.q[7] = i8x4_s24(b.w);
  w.d = vec2<f32>(d);
  w.m = vec2<f32>(0.0);
  return w;
}
