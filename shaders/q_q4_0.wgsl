// Q4_0: x = d * (n - 8). 4 words per block (byte j: element j low nibble, element j + 16 high),
// f16 scales two per word in the meta region.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let d = half_of(w1[params.m_off + g / 2u], g % 2u);
  var w: W32;
  w.q[0] = lo4m8_s28(v.x); w.q[1] = lo4m8_s28(v.y); w.q[2] = lo4m8_s28(v.z); w.q[3] = lo4m8_s28(v.w);
  w.q[4] = hi4m8_s28(v.x); w.q[5] = hi4m8_s28(v.y); w.q[6] = hi4m8_s28(v.z); w.q[7] = hi4m8_s28(v.w);
  w.d = vec2<f32>(d * P28);
  w.m = vec2<f32>(0.0);
  return w;
}
