// Q4_1: x = d * n + m. 4 words per block as Q4_0; meta: one word (d | m << 16) per block.
// Activations come with S = (s, sum of elements 16..31), s being Q8_1's sum of the whole block.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let dm = unpack2x16float(w1[params.m_off + g]);
  var w: W32;
  w.q[0] = lo4_s24(v.x); w.q[1] = lo4_s24(v.y); w.q[2] = lo4_s24(v.z); w.q[3] = lo4_s24(v.w);
  w.q[4] = hi4_s24(v.x); w.q[5] = hi4_s24(v.y); w.q[6] = hi4_s24(v.z); w.q[7] = hi4_s24(v.w);
  w.d = vec2<f32>(dm.x * P24);
  w.m = vec2<f32>(dm.y, 0.0);
  return w;
}
